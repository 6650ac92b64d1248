import Bus
import Foundation
import Processes
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// `planbus demo`: a plan run end to end on a scratch project, offline.
///
/// It writes the project (``DemoProject``), starts the roles with `planbus up`, waits until every
/// role instance heartbeats, submits ``DemoPlan`` as `planbus submit` does, prints a line whenever
/// a task's state changes, and once the run has finished and the handoff is written prints the
/// run's log, its status and the handoff's path. Then it stops the roles (unless asked to keep
/// them), checks each scenario from the bus and git (``DemoChecks``), and prints the commands to
/// look further. The folder is left as it is.
public struct DemoDriver: Sendable {
    public var project: DemoProject
    /// The `planbus` executable the roles run as.
    public var executable: String
    /// Leave the roles running in the background after the run.
    public var keepRoles: Bool
    /// The longest the run may take, once submitted.
    public var runTimeout: Duration
    /// Where the demo's lines go.
    public var say: @Sendable (String) -> Void

    public init(
        project: DemoProject, executable: String, keepRoles: Bool = false, runTimeout: Duration = .seconds(60),
        say: @escaping @Sendable (String) -> Void
    ) {
        self.project = project
        self.executable = executable
        self.keepRoles = keepRoles
        self.runTimeout = runTimeout
        self.say = say
    }

    /// Runs the demonstration.
    /// - Throws: ``LauncherError`` when the folder cannot be used, the roles do not start, the
    ///   plan cannot be submitted, or the run does not finish in time (the roles are stopped first).
    public func run() async throws(LauncherError) -> DemoOutcome {
        let start = ContinuousClock.now
        let bus = try await project.create()
        say("planbus demo: a plan run end to end, offline, in \(project.folder)")
        say("  repo/         a small shell project (greet.sh, test.sh, tests/), one commit on main")
        say(
            "  planbus.yaml  "
                + DemoProject.roles.map { $0.instances == 1 ? $0.name : "\($0.instances) × \($0.name)" }
                .joined(separator: ", "))
        say("  plan.yaml     \(DemoPlan.name)")
        say("  bus/          the bus; up.log the supervisor's output")

        let supervisor = try startRoles(bus: bus)
        let outcome: DemoOutcome
        do {
            outcome = try await drive(bus: bus, supervisor: supervisor, start: start)
        } catch {
            if !keepRoles { _ = await stopRoles(supervisor, bus: bus) }
            throw error
        }
        return outcome
    }

    private func drive(bus: Bus, supervisor: ChildProcess, start: ContinuousClock.Instant) async throws(LauncherError)
        -> DemoOutcome
    {
        let layout = bus.layout
        let started = ContinuousClock.now
        try await waitForHeartbeats(bus: bus, supervisor: supervisor)
        let instances = DemoProject.roles.reduce(0) { $0 + $1.instances }
        say(
            "started the roles with planbus up: \(instances) role processes heartbeating after "
                + Self.seconds(ContinuousClock.now - started))

        let (run, plan) = try submit(bus: bus)
        say("submitted \"\(plan.name)\" as run \(run): \(plan.tasks.count) tasks")
        let submitted = ContinuousClock.now
        try await follow(bus: bus, run: run, since: submitted)
        let runTime = ContinuousClock.now - submitted
        let handoff = layout.run(run) + "/HANDOFF.html"
        let handoffDeadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: handoff) {
            guard ContinuousClock.now < handoffDeadline else {
                throw LauncherError(.io, "run \(run) finished, but the docs role wrote no \(handoff) within 60 s")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }

        say("")
        say("── planbus log --run \(run) ──")
        let entries = Timeline(bus: bus).entries(run: run, events: JournalReader(layout: layout).events(run: run))
        for entry in entries { say(entry.line) }
        say("")
        say("── planbus status \(run) ──")
        for line in RunWatch.run(RunWatchSnapshot.take(bus: bus, run: run)) { say(line) }
        say("")
        say("handoff: \(handoff)")

        var stopped = false
        if keepRoles {
            say("the roles keep running (pid \(supervisor.pid) supervises them); planbus down stops them")
        } else {
            stopped = await stopRoles(supervisor, bus: bus)
            say(stopped ? "stopped the roles" : "the roles did not all stop in time; the rest were killed")
        }

        say("")
        say("── what happened, checked from the bus and git ──")
        let scenarios = await DemoChecks(bus: bus, run: run, repository: project.repository).scenarios()
        for scenario in scenarios { say(scenario.line) }
        let elapsed = ContinuousClock.now - start
        say("")
        say(
            "\(scenarios.filter(\.passed).count) of \(scenarios.count) checks passed; the run took "
                + "\(Self.seconds(runTime)), the whole demo \(Self.seconds(elapsed)).")
        say("")
        say("look further (everything is left in \(project.folder)):")
        let config = "--config \(project.config)"
        for command in [
            "planbus log \(run) --ids \(config)", "planbus status \(run) \(config)",
            "planbus show ID \(config)   # one envelope, by an id from planbus log --ids",
            "planbus tail \(run) \(DemoPlan.farewell) \(config)",
            "git -C \(project.repository) log --oneline --graph \(RunMessages.integrationBranch(run))",
            "open \(handoff)   # or xdg-open",
        ] + (keepRoles ? ["planbus ps \(config)", "planbus down \(config)"] : []) {
            say("  " + command)
        }
        return DemoOutcome(
            project: project, run: run, handoff: handoff, scenarios: scenarios, runTime: runTime, elapsed: elapsed,
            rolesStopped: stopped, supervisorPid: supervisor.pid)
    }

    /// Starts `planbus up --lines` on the demo's configuration, its output in `up.log`. Unless
    /// the roles are kept, the supervisor (and so every role) dies with this process.
    private func startRoles(bus: Bus) throws(LauncherError) -> ChildProcess {
        do {
            return try ChildProcess.spawn(
                [executable, "up", "--lines", "--config", project.config], directory: project.folder,
                stdout: .file(project.upLog), stderr: .file(project.upLog), newSession: keepRoles,
                diesWithParent: !keepRoles)
        } catch {
            throw LauncherError(.io, "cannot start \(executable) up: \(error)")
        }
    }

    /// Waits until the supervisor's state file shows every instance running (it has heartbeated).
    private func waitForHeartbeats(bus: Bus, supervisor: ChildProcess) async throws(LauncherError) {
        let files = SupervisorFiles(layout: bus.layout)
        let expected = DemoProject.roles.reduce(0) { $0 + $1.instances }
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            if let exit = supervisor.exitStatus {
                throw LauncherError(.io, "planbus up ended (\(exit)) while starting; see \(project.upLog)")
            }
            if let snap = SupervisorSnapshot.read(path: files.state), snap.pid == supervisor.pid,
                snap.instances.count == expected, snap.instances.allSatisfy({ $0.phase == "running" })
            {
                return
            }
            guard ContinuousClock.now < deadline else {
                throw LauncherError(
                    .io, "not every role heartbeats 60 s after planbus up started; see \(project.upLog)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Publishes the plan's goal, as `planbus submit` does.
    private func submit(bus: Bus) throws(LauncherError) -> (String, Plan) {
        do {
            let plan = try PlanLoader.load(path: project.planFile)
            let unsupported = RunSupport.unsupported(plan)
            guard unsupported.isEmpty else {
                throw LauncherError(
                    .invalidArgument, "the demo's plan cannot be run: " + unsupported.joined(separator: "; "))
            }
            let text = try String(contentsOfFile: project.planFile, encoding: .utf8)
            let stamp = Timestamp.now().description.prefix(19).filter(\.isNumber)
            let run = "demo-" + stamp.prefix(8) + "-" + stamp.dropFirst(8)
            let worker = try WorkerID.current(role: "cli")
            let goal = try RunSubmission.goal(
                planFile: project.planFile, text: text, plan: plan, run: run, worker: worker)
            try Publisher(bus: bus, worker: worker).publish(goal)
            return (run, plan)
        } catch let error as LauncherError {
            throw error
        } catch let error as RoleError {
            throw LauncherError(.invalidArgument, "the demo's plan: \(error.message)")
        } catch {
            throw LauncherError(.io, "cannot submit the demo's plan: \(error)")
        }
    }

    /// Prints a line whenever a task's state, attempt or candidate changes in `status.json`, until
    /// the run has finished.
    private func follow(bus: Bus, run: String, since: ContinuousClock.Instant) async throws(LauncherError) {
        let file = bus.layout.run(run) + "/status.json"
        let deadline = since + runTimeout
        var last: [String: String] = [:]
        var stage = ""
        let width = DemoPlan.tasks.map(\.count).max() ?? 8
        while true {
            if case .bytes(let bytes) = FileOps.readRegular(file, limit: 16 << 20),
                let status = try? JSONValue.parse(bytes)
            {
                let at = Self.seconds(ContinuousClock.now - since).padding(toLength: 7, withPad: " ", startingAt: 0)
                if let now = status["stage"]?.stringValue, now != stage {
                    stage = now
                    say("  \(at)  run: stage \(now)")
                }
                for task in status["tasks"]?.arrayValue ?? [] {
                    guard let id = task["id"]?.stringValue, let state = task["state"]?.stringValue else { continue }
                    var line = state
                    if let a = (task["attempt"] ?? task["attempts"])?.intValue { line += ", attempt \(a)" }
                    if let c = task["candidate"]?.intValue { line += ", candidate \(c)" }
                    if let commit = task["commit"]?.stringValue, state == "integrated" {
                        line += ": \(commit.prefix(10))"
                    }
                    if let reason = task["reason"]?.stringValue, state == "failed" {
                        let lines = reason.split(separator: "\n")
                        line += ": " + (lines.first { $0.hasPrefix("- ") }?.dropFirst(2) ?? lines.first ?? "")
                    }
                    if last[id] != line {
                        say("  \(at)  \(id.padding(toLength: width, withPad: " ", startingAt: 0))  \(line)")
                    }
                    last[id] = line
                }
                if status["finished"] == .bool(true) {
                    say("  \(at)  run: finished" + (status["halted"]?.stringValue.map { ", halted: \($0)" } ?? ""))
                    return
                }
            }
            guard ContinuousClock.now < deadline else { throw unfinished(bus: bus, run: run) }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The error for a run that did not finish in time, after printing its status and the
    /// envelopes of the run that were dead-lettered, which usually say why.
    private func unfinished(bus: Bus, run: String) -> LauncherError {
        let entries = Timeline(bus: bus).entries(
            run: run, events: JournalReader(layout: bus.layout).events(run: run))
        let dead = entries.filter { if case .dead = $0.state { return true } else { return false } }
        say("")
        for line in RunWatch.run(RunWatchSnapshot.take(bus: bus, run: run)) { say(line) }
        if !dead.isEmpty {
            say("dead letters of run \(run):")
            for entry in dead { say("  \(entry.id): \(entry.line)") }
        }
        return LauncherError(
            .io,
            "run \(run) did not finish within \(Self.seconds(runTimeout))"
                + (dead.isEmpty
                    ? ""
                    : "; \(dead.count) of its envelopes \(dead.count == 1 ? "was" : "were") dead-lettered "
                        + "(\(dead.map(\.id).joined(separator: ", ")))")
                + "; everything is left in \(project.folder): planbus log --run \(run) --config \(project.config)")
    }

    /// Stops the supervisor with SIGTERM (every role finishes or releases its envelope and exits)
    /// and waits for it; past the stop grace its process group is killed.
    /// - Returns: true when the supervisor stopped by itself and its state says every instance
    ///   stopped.
    private func stopRoles(_ supervisor: ChildProcess, bus: Bus) async -> Bool {
        supervisor.send(SIGTERM)
        guard case .ended = await supervisor.wait(timeout: .seconds(30)) else { return false }
        guard let snap = SupervisorSnapshot.read(path: SupervisorFiles(layout: bus.layout).state) else { return false }
        return snap.state == "stopped" && snap.instances.allSatisfy { $0.pid == nil }
    }

    /// A duration in seconds with one decimal.
    static func seconds(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        return String(format: "%.1f s", Double(ms) / 1000)
    }
}
