import ArgumentParser
import Bus
import FileFormats
import Foundation
import Launcher
import Roles

#if canImport(Glibc)
    import Glibc
#endif

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a plan: the planner turns it into builds, verifications and integrations.",
        discussion: """
            The plan is validated first (docs/PLAN.md); an invalid plan is refused with the file, \
            line and field of each mistake (exit 3), and so are a base branch the repository does \
            not have and a --run id already in use. A warning says when no planner is running. Then a goal envelope carrying the plan goes to \
            the planner, and the run id is printed. With --dry-run, nothing is sent: the route is \
            printed (stages, waves of tasks, gates).

            With --wait the command follows the run until it ends, or until it can only go on \
            with a person (a question to answer, a task to approve). Exit codes: 0 every task \
            integrated (and the smoke gates passed); 1 the run ended with failed or blocked tasks, \
            or failing smoke gates, or a dead-lettered envelope ended it; 2 the run was halted \
            (preflight gates, circuit breaker, budget) or waits on a person (planbus questions); 3 \
            invalid plan or configuration (or the goal was dead-lettered); 4 the bus is \
            unavailable; 130 interrupted. An envelope of the run dead-lettered on the way counts as \
            a failed attempt of its task (retried while attempts remain), or, belonging to no task, \
            ends the run: --wait says which (exit 1).

            With --goal TEXT instead of a plan file, the goal goes to the planner as words: a \
            planner with an agent (roles: planner: agent:) first asks people up to 4 questions \
            about its intent (planbus questions, planbus answer; not with --no-questions), then \
            has its model write runs/<run>/SPEC.md and the plan (runs/<run>/plan.yaml), checked \
            like a submitted plan and asked for again at most twice with the errors. The model \
            may propose gates only with --allow-model-gates. A planner without an agent \
            dead-letters the goal (--wait exits 3 and says why).
            """
    )

    @Argument(help: "The plan file (YAML); or give --goal.")
    var plan: String?

    @Option(help: "The goal in words, instead of a plan file: the planner's model plans it.")
    var goal: String?

    @Flag(help: "With --goal: plan without asking people about the intent first.")
    var noQuestions = false

    @Option(help: "With --goal: the git repository to change (default: the configuration's repository).")
    var repo: String?

    @Option(help: "With --goal: the branch the run starts from.")
    var base = "main"

    @Option(help: "With --goal: the risk, low, medium or high (default: the model chooses).")
    var risk: String?

    @Flag(help: "With --goal: let the model propose gates (otherwise a plan with gates is refused).")
    var allowModelGates = false

    @Option(
        help: ArgumentHelp(
            "The globs a model's tasks must stay inside: the tasks it drafts for --goal, and the follow-up tasks reviews propose (default: with --goal none, with a plan the union of its tasks' scopes); repeatable.",
            valueName: "glob"))
    var scope: [String] = []

    @Flag(
        help: "Let the model give its tasks and follow-up tasks any scope (otherwise one outside the limit is refused)."
    )
    var allowModelScope = false

    @Flag(help: "Validate and print the route; send nothing.")
    var dryRun = false

    @Flag(help: "Follow the run until it ends; the exit code tells how it ended.")
    var wait = false

    @Option(help: "The run id (default: a new one).")
    var run: String?

    @Flag(help: "Print JSON: {\"run\", \"goal\"} on one line, then with --wait the final status.json on another.")
    var json = false

    @OptionGroup var busOptions: BusOptions

    func validate() throws {
        if (plan == nil) == (goal == nil) {
            throw ValidationError("give a plan file or --goal TEXT, not both")
        }
        if goal == nil, noQuestions || repo != nil || risk != nil || allowModelGates || base != "main" {
            throw ValidationError("--no-questions, --repo, --base, --risk and --allow-model-gates go with --goal")
        }
        for glob in scope where glob.isEmpty || glob.hasPrefix("/") || glob.split(separator: "/").contains("..") {
            throw ValidationError(
                "--scope \(glob): a glob is relative to the repository and stays inside it, such as \"src/**\"")
        }
        if goal != nil, dryRun { throw ValidationError("--dry-run needs a plan file; a goal has no route yet") }
        if let goal, goal.allSatisfy(\.isWhitespace) { throw ValidationError("--goal is empty") }
        if let risk, PlanRisk(rawValue: risk) == nil {
            throw ValidationError("--risk must be low, medium or high, got \(risk)")
        }
    }

    func run() async throws {
        if let goal {
            try await reportingFailures { try await submit(goal: goal) }
            return
        }
        guard let plan else { return }
        try await reportingFailures {
            let path = plan.hasPrefix("/") ? plan : FileManager.default.currentDirectoryPath + "/" + plan
            let loaded: Plan
            do {
                loaded = try PlanLoader.load(path: path)
            } catch let error as RoleError {
                throw CLIFailure(error.message, code: 3)
            }
            let route = PlanRoute(plan: loaded)
            if dryRun {
                emit(json ? route.json.serialized() : route.text)
                return
            }
            // A task without a run step needs a builder with an agent in the configuration.
            let agents = (try? busOptions.loadConfig())?.agentSettings(for: "planner") ?? .offline
            let unsupported = RunSupport.unsupported(loaded, agents: agents)
            guard unsupported.isEmpty else {
                throw CLIFailure(
                    "\(path): this plan cannot be run yet:\n" + unsupported.map { "  - " + $0 }.joined(separator: "\n"),
                    code: 3)
            }
            let bus: Bus
            do { bus = try busOptions.open() } catch let failure as CLIFailure {
                throw CLIFailure(failure.message, code: 4)
            }
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let runID = run ?? SendCommand.newRunID()
            try Limits.checkName(runID, field: "--run")
            if FileManager.default.fileExists(atPath: bus.layout.run(runID)) {
                throw CLIFailure(
                    "run \(runID) already exists on \(bus.layout.root); give another --run, or none for a new id",
                    code: 3)
            }
            guard await Git(directory: loaded.repository).branchExists(loaded.baseBranch) else {
                throw CLIFailure(
                    "\(path): base_branch \(loaded.baseBranch) is not a branch of \(loaded.repository)", code: 3)
            }
            let worker = try WorkerID.current(role: "cli")
            let goal: Envelope
            do throws(RoleError) {
                goal = try RunSubmission.goal(
                    planFile: path, text: text, plan: loaded, run: runID, worker: worker,
                    scope: scope.isEmpty ? nil : scope,
                    allowModelScope: allowModelScope, keys: agents.keyVariables)
            } catch {
                throw CLIFailure(error.message, code: 3)
            }
            try Publisher(bus: bus, worker: worker).publish(goal)
            if json {
                emit(JSONValue.object(["run": .string(runID), "goal": .string(goal.id)]).serialized())
            } else {
                let count = loaded.tasks.count
                emit(
                    "submitted \(loaded.name) as run \(runID) (\(count) task\(count == 1 ? "" : "s")); "
                        + "planbus status \(runID)")
            }
            warnWithoutPlanner(bus)
            if wait { try await follow(bus: bus, run: runID, goal: goal.id) }
        }
    }

    /// Sends a free-text goal, after checking the repository and its base branch.
    private func submit(goal text: String) async throws {
        let bus: Bus
        do { bus = try busOptions.open() } catch let failure as CLIFailure {
            throw CLIFailure(failure.message, code: 4)
        }
        let folder = try repo.map { FilePaths.absolute($0) } ?? busOptions.loadConfig().repository
        guard FilePaths.kind(of: folder + "/.git") != .missing else {
            throw CLIFailure("\(folder) is not a git repository (it has no .git); give --repo", code: 3)
        }
        guard await Git(directory: folder).branchExists(base) else {
            throw CLIFailure("--base \(base) is not a branch of \(folder)", code: 3)
        }
        let runID = run ?? SendCommand.newRunID()
        try Limits.checkName(runID, field: "--run")
        if FileManager.default.fileExists(atPath: bus.layout.run(runID)) {
            throw CLIFailure(
                "run \(runID) already exists on \(bus.layout.root); give another --run, or none for a new id", code: 3)
        }
        let worker = try WorkerID.current(role: "cli")
        let options = RunSubmission.GoalOptions(
            repository: folder, baseBranch: base, risk: risk.flatMap(PlanRisk.init(rawValue:)), questions: !noQuestions,
            allowModelGates: allowModelGates, scope: scope.isEmpty ? nil : scope, allowModelScope: allowModelScope)
        let keys = (try? busOptions.loadConfig())?.keyVariables ?? []
        let envelope = RunSubmission.goal(text: text, options: options, run: runID, worker: worker, keys: keys)
        try Publisher(bus: bus, worker: worker).publish(envelope)
        if json {
            emit(JSONValue.object(["run": .string(runID), "goal": .string(envelope.id)]).serialized())
        } else {
            emit("submitted the goal as run \(runID); the planner plans it (planbus status \(runID))")
        }
        warnWithoutPlanner(bus)
        if wait { try await follow(bus: bus, run: runID, goal: envelope.id) }
    }

    private func warnWithoutPlanner(_ bus: Bus) {
        let planners = WorkerStatus.collect(bus: bus).filter { $0.role == "planner" && $0.mark == nil }
        if !planners.contains(where: { ["idle", "working", "backoff"].contains($0.state) }) {
            FileOps.standardErrorLine(
                "no planner is running on \(bus.layout.root): the run starts when one does (planbus up)")
        }
    }

    /// Says, once each, which role processes wait out a limit (heartbeat `backoff` with an end): a
    /// run that seems to stand still is waiting for a rate limit to reset.
    private func reportBackoffs(bus: Bus, seen: inout Set<String>) {
        for worker in WorkerStatus.collect(bus: bus) {
            guard let text = worker.backoffUntil, let until = Timestamp(rfc3339: text), Timestamp.now() < until,
                seen.insert("\(worker.worker ?? worker.role) \(text)").inserted
            else { continue }
            FileOps.standardErrorLine(
                "\(worker.role) \(worker.pid.map { "\($0)" } ?? "?") waits until \(text): "
                    + (worker.backoffReason ?? "backing off"))
        }
    }

    /// Waits for the run's status to say it finished, printing task changes as they come. The
    /// planner takes the other dead letters of the run (a retry, a failed task, a halted run); it
    /// stops at once when the goal was dead-lettered (exit 3), or the planner's own notice of a
    /// dead letter (exit 1), since the run cannot finish then.
    private func follow(bus: Bus, run: String, goal: String) async throws {
        let file = bus.layout.run(run) + "/status.json"
        var last: [String: String] = [:]
        var backoffs: Set<String> = []
        var polls = 0
        while true {
            polls += 1
            if polls % 10 == 1 { reportBackoffs(bus: bus, seen: &backoffs) }
            if polls % 10 == 1,
                let dead = JournalReader(layout: bus.layout).events(run: run).first(where: {
                    $0.event == .dead && !$0.duplicate && ($0.id == goal || $0.kind == DeadLetterNotice.kind)
                })
            {
                FileOps.standardErrorLine(
                    "run \(run) cannot finish: \(dead.kind ?? "an envelope") \(dead.id) to \(dead.role) was dead-lettered: "
                        + "\(dead.reason ?? "no reason recorded") (planbus log \(run))")
                if json {
                    let status = FileOps.readRegular(file, limit: 16 << 20)
                    if case .bytes(let b) = status, let parsed = try? JSONValue.parse(b) {
                        emit(parsed.serialized())
                    } else {
                        emit("null")
                    }
                }
                throw ExitCode(dead.id == goal ? 3 : 1)
            }
            if case .bytes(let b) = FileOps.readRegular(file, limit: 16 << 20), let status = try? JSONValue.parse(b) {
                for task in status["tasks"]?.arrayValue ?? [] {
                    guard let id = task["id"]?.stringValue, let state = task["state"]?.stringValue else { continue }
                    let line = state + (task["attempt"]?.intValue.map { " (attempt \($0))" } ?? "")
                    if last[id] != line, !json { emit("\(id): \(line)") }
                    last[id] = line
                }
                if let waiting = status["waiting"]?.stringValue, status["finished"] != .bool(true) {
                    if json { emit(status.serialized()) }
                    FileOps.standardErrorLine("run \(run) is \(waiting)")
                    throw ExitCode(2)
                }
                if status["finished"] == .bool(true) {
                    let states = (status["tasks"]?.arrayValue ?? []).compactMap { $0["state"]?.stringValue }
                    if json { emit(status.serialized()) }
                    if let halted = status["halted"]?.stringValue {
                        // A run a dead letter halted has failed: it did not stop for a limit.
                        let dead = (status["dead_letters"]?.arrayValue ?? []).contains { $0["effect"] == "run_halted" }
                        FileOps.standardErrorLine("run \(run) \(dead ? "failed" : "was halted"): \(halted)")
                        throw ExitCode(dead ? 1 : 2)
                    }
                    let unfinished = states.filter { $0 != "integrated" }.count
                    if unfinished > 0 {
                        FileOps.standardErrorLine(
                            "run \(run) ended with \(unfinished) of \(states.count) tasks not integrated")
                        throw ExitCode(1)
                    }
                    if status["smoke"]?["passed"] == .bool(false) {
                        FileOps.standardErrorLine(
                            "run \(run): the smoke gates failed: \(status["smoke"]?["summary"]?.stringValue ?? "")")
                        throw ExitCode(1)
                    }
                    if !json { emit("run \(run) finished: every task integrated; planbus merge \(run) to ship it") }
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
