import Bus
import Foundation
import Roles

/// The checks of a chaos run, made once the run finished, the roles stopped and the janitor ran:
/// from the run's `status.json`, every run's journal, the queue folders and the git repository.
struct ChaosChecks: Sendable {
    let bus: Bus
    let repository: String
    let run: String
    let tasks: Int
    /// The run's `status.json`.
    let status: String

    /// What the checks found: the checks, and a line per dead letter (queue, kind, task, id and
    /// reason).
    struct Findings: Sendable {
        var checks: [ChaosCheck] = []
        var deadLetters: [String] = []
    }

    func make() async -> Findings {
        var findings = Findings()
        findings.checks.append(finished())
        findings.checks += await integration()
        let (lost, dead, letters) = envelopes()
        findings.checks += [lost, dead]
        findings.deadLetters = letters
        findings.checks += await leftovers()
        return findings
    }

    private var taskIDs: [String] { (0..<tasks).map { RunPlanText.taskID($0, of: tasks) } }

    /// The planner says the run is finished, every task `integrated`.
    func finished() -> ChaosCheck {
        guard case .bytes(let bytes) = FileOps.readRegular(status, limit: 64 << 20),
            let json = try? JSONValue.parse(bytes)
        else { return ChaosCheck("run finished", problems: ["no status.json at \(status)"], ok: "") }
        var problems: [String] = []
        if json["finished"] != .bool(true) { problems.append("the planner does not say the run is finished") }
        var states: [String: String] = [:]
        for task in json["tasks"]?.arrayValue ?? [] {
            if let id = task["id"]?.stringValue { states[id] = task["state"]?.stringValue ?? "?" }
        }
        for id in taskIDs where states[id] != "integrated" { problems.append("\(id) is \(states[id] ?? "missing")") }
        return ChaosCheck("run finished", problems: problems, ok: "finished, all \(tasks) tasks integrated")
    }

    /// Merge commits on the integration branch's first-parent line, per `Planbus-Task` trailer:
    /// exactly one per task, none for anything else; chained tasks merged after their dependency;
    /// every task's file at the branch's head.
    func integration() async -> [ChaosCheck] {
        let git = Git(directory: repository)
        let branch = RunMessages.integrationBranch(run)
        let log: String
        let files: String
        do {
            log = try await git.run([
                "log", "--first-parent", "--merges", "--reverse", "--format=%x1e%(trailers:key=Planbus-Task,valueonly)",
                branch,
            ])
            files = try await git.run(["ls-tree", "-r", "--name-only", branch])
        } catch {
            let problem = ["cannot read \(branch): \(error.message)"]
            return [
                ChaosCheck("integrated once", problems: problem, ok: ""),
                ChaosCheck("dependency order", problems: problem, ok: ""),
            ]
        }
        var order: [String] = []
        for record in log.split(separator: "\u{1e}") {
            let task = record.trimmingCharacters(in: .whitespacesAndNewlines)
            order.append(task.isEmpty ? "(no trailer)" : task)
        }
        var counts: [String: Int] = [:]
        for task in order { counts[task, default: 0] += 1 }
        var problems: [String] = []
        for id in taskIDs where counts[id] != 1 { problems.append("\(id) merged \(counts[id] ?? 0) times") }
        for (task, count) in counts.sorted(by: { $0.key < $1.key }) where !taskIDs.contains(task) {
            problems.append("\(count) merge(s) of \(task), not a task of the plan")
        }
        let present = Set(files.split(separator: "\n").map(String.init))
        for id in taskIDs where !present.contains(id + "/done") { problems.append("\(id)/done is not on \(branch)") }
        let once = ChaosCheck(
            "integrated once", problems: problems,
            ok: "\(order.count) merge commits on \(branch), one per task; every task's file at its head")

        var misordered: [String] = []
        let position = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let pairs = ChaosPlanText.dependencies(tasks: tasks).sorted { $0.key < $1.key }
        for (after, before) in pairs {
            let a = RunPlanText.taskID(after, of: tasks)
            let b = RunPlanText.taskID(before, of: tasks)
            guard let pa = position[a], let pb = position[b] else { continue }
            if pa <= pb { misordered.append("\(a) was merged before its dependency \(b)") }
        }
        let ordered = ChaosCheck(
            "dependency order", problems: misordered,
            ok:
                "\(pairs.count) dependent tasks in \(ChaosPlanText.chains(tasks: tasks).count) chains merged after their dependencies"
        )
        return [once, ordered]
    }

    /// Every envelope of every run's journal ended done or dead, the queues' `new/`, `cur/` and
    /// `retry/` are empty; and the dead letters, listed from the journal and the `dead/` folders.
    func envelopes() -> (lost: ChaosCheck, dead: ChaosCheck, letters: [String]) {
        let reader = JournalReader(layout: bus.layout)
        let timeline = Timeline(bus: bus)
        var entries: [Timeline.Entry] = []
        for run in reader.runs() { entries += timeline.entries(run: run, events: reader.events(run: run)) }
        var problems: [String] = []
        var letters: [String] = []
        for entry in entries {
            let what =
                "\(entry.role) \(entry.kind ?? "?")\(entry.task.map { " [\($0)]" } ?? "") \(entry.id) (run \(entry.run))"
            switch entry.state {
            case .done: continue
            case .dead(let reason): letters.append(what + ": " + (reason ?? "no reason"))
            default: problems.append(what + " is " + entry.state.word)
            }
        }
        let roles = (try? bus.roles()) ?? []
        var deadFiles = 0
        for role in roles {
            for (folder, path) in [
                ("new", bus.layout.new(role)), ("cur", bus.layout.cur(role)), ("retry", bus.layout.retry(role)),
            ] {
                for name in ((try? FileOps.list(path)) ?? []) where !name.hasPrefix(".") {
                    problems.append("q/\(role)/\(folder)/\(name) is left")
                }
            }
            deadFiles += ((try? FileOps.list(bus.layout.dead(role))) ?? []).filter { $0.hasSuffix(".json") }.count
        }
        if deadFiles > letters.count {
            letters.append("\(deadFiles - letters.count) file(s) in dead/ that no journal names (undecodable)")
        }
        let done = entries.filter { $0.state.isTerminal }.count
        let lost = ChaosCheck(
            "no envelope lost", problems: problems,
            ok:
                "all \(entries.count) envelopes of the journal done or dead (\(done - letters.count) done); queues empty"
        )
        let dead = ChaosCheck("no dead letters", problems: letters, ok: "none")
        return (lost, dead, letters)
    }

    /// No staging files, claims, staged results, work trees or git lock files are left.
    func leftovers() async -> [ChaosCheck] {
        var problems: [String] = []
        for name in (try? FileOps.list(bus.layout.tmp)) ?? [] { problems.append("tmp/\(name)") }
        for role in (try? bus.roles()) ?? [] {
            for name in (try? FileOps.list(bus.layout.cur(role))) ?? [] { problems.append("q/\(role)/cur/\(name)") }
            for name in (try? FileOps.list(bus.layout.work + "/" + role)) ?? [] {
                problems.append("work/\(role)/\(name)")
            }
        }
        let git = Git(directory: repository)
        do {
            let trees = try await git.worktrees().map(\.path)
            let main = URL(fileURLWithPath: repository).resolvingSymlinksInPath().path
            for tree in trees where tree != main && tree != repository {
                problems.append("git work tree \(tree)")
            }
        } catch {
            problems.append("cannot list the work trees: \(error.message)")
        }
        for folder in ["trees", "verify", "merge"] {
            let path = bus.layout.run(run) + "/" + folder
            for name in (try? FileOps.list(path)) ?? [] { problems.append("runs/\(run)/\(folder)/\(name)") }
        }
        let gitDir = repository + "/.git"
        if let walker = FileManager.default.enumerator(atPath: gitDir) {
            while let path = walker.nextObject() as? String {
                if path.hasSuffix(".lock") { problems.append(".git/\(path)") }
            }
        }
        return [
            ChaosCheck(
                "no leftovers", problems: problems,
                ok: "no staging files, claims, staged results, extra work trees or git locks")
        ]
    }
}
