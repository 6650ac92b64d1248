import Bus
import Foundation
import Processes
import Roles

/// Checks, from the bus and git alone, that each scenario of the demo's plan (``DemoPlan``)
/// really happened in run `run`. Nothing is taken from what the demo meant to happen: each line's
/// evidence is read from the journal, the envelopes the roles acked, `status.json`, the handoff
/// files and the repository.
public struct DemoChecks: Sendable {
    public let bus: Bus
    public let run: String
    /// The repository the plan changed.
    public let repository: String

    public init(bus: Bus, run: String, repository: String) {
        self.bus = bus
        self.run = run
        self.repository = repository
    }

    /// Every scenario, in the order the demo shows them.
    public func scenarios() async -> [DemoScenario] {
        let evidence = DemoEvidence(bus: bus, run: run)
        let plan = try? RunMessages.plan(of: run, layout: bus.layout)
        var out = [finished(evidence), parallel(evidence, plan: plan)]
        out.append(await dependent(evidence))
        out.append(retried(evidence))
        out.append(await scope(evidence))
        out.append(await competition(evidence))
        out.append(handoff(evidence, plan: plan))
        return out
    }

    var git: Git { Git(directory: repository) }
    var integration: String { RunMessages.integrationBranch(run) }

    /// True when `ancestor` is reachable from `commit`.
    func contains(_ commit: String, _ ancestor: String) async -> Bool {
        (try? await git.attempt(["merge-base", "--is-ancestor", ancestor, commit]))?.succeeded ?? false
    }

    /// The paths `commit` changed against its first parent.
    func changedPaths(_ commit: String) async -> [String] {
        let out = (try? await git.run(["diff-tree", "--no-commit-id", "--name-only", "-r", commit])) ?? ""
        return out.split(separator: "\n").map(String.init)
    }

    static func short(_ commit: String?) -> String { String((commit ?? "?").prefix(10)) }

    func finished(_ e: DemoEvidence) -> DemoScenario {
        let title = "the run finished"
        guard let status = e.status else {
            return DemoScenario(key: "run", title: title, passed: false, evidence: "no status.json for run \(run)")
        }
        let tasks = status["tasks"]?.arrayValue ?? []
        let states = Dictionary(grouping: tasks) { $0["state"]?.stringValue ?? "?" }
        let failed = (states["failed"] ?? []).compactMap { $0["id"]?.stringValue }
        let integrated = states["integrated"]?.count ?? 0
        let halted = status["halted"]?.stringValue
        let passed =
            status["finished"] == .bool(true) && halted == nil && failed == [DemoPlan.docs]
            && integrated == tasks.count - 1
        var text = "\(integrated) of \(tasks.count) tasks integrated"
        text += failed.isEmpty ? ", none failed" : ", failed: \(failed.joined(separator: ", "))"
        if let halted { text += "; halted: \(halted)" }
        if status["finished"] != .bool(true) { text += "; not finished" }
        return DemoScenario(key: "run", title: title, passed: passed, evidence: text)
    }

    /// Two builds of independent tasks whose claims (claimed to acked, in the builders' journal)
    /// overlapped in time, held by different builders.
    func parallel(_ e: DemoEvidence, plan: Plan?) -> DemoScenario {
        let title = "independent tasks built in parallel"
        guard let plan else {
            return DemoScenario(key: "parallel", title: title, passed: false, evidence: "the run's plan is unreadable")
        }
        var pairs: [(DemoEvidence.Build, DemoEvidence.Build, Int64)] = []
        for (i, a) in e.builds.enumerated() {
            for b in e.builds[(i + 1)...] where a.task != b.task && Self.independent(a.task, b.task, in: plan) {
                guard let a0 = a.claimed, let a1 = a.acked, let b0 = b.claimed, let b1 = b.acked else { continue }
                let overlap = min(a1, b1).milliseconds - max(a0, b0).milliseconds
                if overlap > 0, a.worker != b.worker { pairs.append((a, b, overlap)) }
            }
        }
        guard let best = pairs.max(by: { $0.2 < $1.2 }) else {
            return DemoScenario(
                key: "parallel", title: title, passed: false,
                evidence: "no two builds of independent tasks overlapped among \(e.builds.count) builds")
        }
        let (a, b, overlap) = best
        return DemoScenario(
            key: "parallel", title: title, passed: true,
            evidence: "\(a.task) and \(b.task) were built at the same time by \(DemoEvidence.short(a.worker)) and "
                + "\(DemoEvidence.short(b.worker)) (claims overlapped \(DemoEvidence.seconds(overlap))); "
                + "\(pairs.count) pair\(pairs.count == 1 ? "" : "s") of independent builds overlapped")
    }

    /// True when neither task depends on the other, directly or not.
    static func independent(_ a: String, _ b: String, in plan: Plan) -> Bool {
        func reaches(_ from: String, _ to: String) -> Bool {
            var seen: Set<String> = []
            var stack = [from]
            while let id = stack.popLast() {
                for dep in plan.task(id)?.dependsOn ?? [] where seen.insert(dep).inserted {
                    if dep == to { return true }
                    stack.append(dep)
                }
            }
            return false
        }
        return !reaches(a, b) && !reaches(b, a)
    }

    /// The dependent task's build was published after its dependency's integrating verdict, and
    /// its base commit contains the dependency's merge.
    func dependent(_ e: DemoEvidence) async -> DemoScenario {
        let title = "a dependent task waited for its dependency"
        let (task, dependency) = (DemoPlan.shout, DemoPlan.upper)
        guard let build = e.builds(of: task).first(where: { $0.attempt == 1 }),
            let base = build.envelope.body["base"]?.stringValue, let released = build.published
        else {
            return DemoScenario(key: "dependent", title: title, passed: false, evidence: "\(task) was never built")
        }
        guard let verdict = e.verdicts(of: dependency).first(where: { $0.body["integrated"]?.stringValue != nil }),
            let merge = verdict.body["integrated"]?.stringValue, let integrated = e.published(verdict.id)
        else {
            return DemoScenario(
                key: "dependent", title: title, passed: false, evidence: "\(dependency) was never integrated")
        }
        let after = released.milliseconds - integrated.milliseconds
        let inBase = await contains(base, merge)
        let state = e.task(task)?["state"]?.stringValue ?? "?"
        return DemoScenario(
            key: "dependent", title: title, passed: after >= 0 && inBase && state == "integrated",
            evidence: "\(task) (depends on \(dependency)) was released "
                + (after >= 0
                    ? "\(DemoEvidence.seconds(after)) after \(dependency) was integrated"
                    : "\(DemoEvidence.seconds(-after)) BEFORE \(dependency) was integrated")
                + " as \(Self.short(merge)); its build's base \(Self.short(base)) "
                + (inBase ? "contains" : "does NOT contain") + " that merge; \(task) is \(state)")
    }

    /// Attempt 1 rejected by a gate; attempt 2 built with that feedback, approved and integrated.
    func retried(_ e: DemoEvidence) -> DemoScenario {
        let title = "a gate rejected attempt 1, attempt 2 used the feedback"
        let task = DemoPlan.farewell
        let verdicts = e.verdicts(of: task)
        guard let first = verdicts.first(where: { $0.body["attempt"]?.intValue == 1 }),
            let second = verdicts.first(where: { $0.body["attempt"]?.intValue == 2 })
        else {
            return DemoScenario(
                key: "retry", title: title, passed: false,
                evidence: "\(task) has \(verdicts.count) verdict\(verdicts.count == 1 ? "" : "s"), not one per attempt")
        }
        let failedGates = (first.body["gates"]?.arrayValue ?? []).filter { $0["passed"] == .bool(false) }
            .compactMap { $0["name"]?.stringValue }
        let gateFinding = (first.body["findings"]?.arrayValue ?? []).contains { $0["check"] == "gate" }
        let feedback = first.body["feedback"]?.stringValue ?? ""
        let given = e.builds(of: task).first { $0.attempt == 2 }?.envelope.body["feedback"]?.stringValue
        let file = e.layout.run(run) + "/\(task)/2/feedback.txt"
        let onDisk = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let integrated = second.body["integrated"]?.stringValue
        let passed =
            first.body["approved"] == .bool(false) && gateFinding && !failedGates.isEmpty && !feedback.isEmpty
            && given == feedback && onDisk == feedback && second.body["approved"] == .bool(true) && integrated != nil
        let why =
            feedback.split(separator: "\n").first { $0.contains("FAIL") }.map {
                $0.trimmingCharacters(in: .whitespaces)
            } ?? (first.body["findings"]?.arrayValue?.first?["message"]?.stringValue ?? "no finding")
        return DemoScenario(
            key: "retry", title: title, passed: passed,
            evidence: "\(task) attempt 1 \(first.body["verdict"]?.stringValue ?? "?") by gate "
                + "\(failedGates.isEmpty ? "(none failed)" : failedGates.joined(separator: ", ")): \(why); "
                + "attempt 2 \(given == feedback && onDisk == feedback ? "was given that feedback" : "did NOT get that feedback") "
                + "(\(file)) and was \(second.body["verdict"]?.stringValue ?? "?")"
                + (integrated.map { ", integrated as \(Self.short($0))" } ?? ", not integrated"))
    }
}
