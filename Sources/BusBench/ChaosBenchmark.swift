import Bus
import FileFormats
import Launcher
import Processes
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// The chaos run behind `planbus bench chaos`: a plan run under `planbus up` while role processes
/// are SIGKILLed at random, and the supervisor once; then checks that nothing was lost, doubled or
/// left behind.
///
/// 1. A fresh session (``RunSession``): a git repository, the plan of ``ChaosPlanText`` (tasks
///    that each write one file, a few in dependency chains), a `planbus.yaml` running planner,
///    builders, verifiers, judge and docs with ``busSettings`` and ``supervisorSettings``, its
///    bus, and `planbus up` as a child process.
/// 2. Once every role runs, `planbus submit`. Then, every 0.2 to 1 s (uniformly drawn from a
///    seeded ``ChaosRandom``), ``ChaosKiller`` SIGKILLs one role process the supervisor runs,
///    drawn from the same generator. When half the tasks are integrated it SIGKILLs the supervisor
///    instead (its roles die with it), waits until they are gone, and starts `planbus up` again.
/// 3. When the planner says the run is finished (the run's `status.json`), the kills stop; once
///    no queue holds a waiting, claimed or retrying envelope, `planbus down` stops the roles and
///    `planbus janitor --watch` tidies the bus.
/// 4. ``ChaosChecks`` checks, and ``ChaosRecovery`` measures from the journal.
///
/// A run that does not finish within ``Configuration/timeout`` fails the `run finished` check.
public struct ChaosBenchmark: Sendable {
    /// What to run.
    public struct Configuration: Sendable {
        /// Tasks in the plan.
        public var tasks = 200
        /// Builder instances.
        public var builders = 4
        /// Verifier instances.
        public var verifiers = 2
        /// The seed of the kill schedule (drawn when `nil`).
        public var seed: UInt64?
        /// The shortest gap between two kills, in seconds.
        public var minInterval = 0.2
        /// The longest gap between two kills, in seconds.
        public var maxInterval = 1.0
        /// The longest the run may take from submit.
        public var timeout: Duration = .seconds(1800)
        /// Where the scratch directory is made (the system temporary directory when `nil`).
        public var parentDirectory: String?
        /// Leave the scratch directory (repository, bus, journals, logs) in place at the end.
        public var keep = false
        /// The `planbus` executable that provides `up`, `submit`, `down`, `janitor` and the roles.
        public var executable: String
        /// The command line, as recorded in the report.
        public var commandLine: String

        /// The defaults: 200 tasks, 4 builders, 2 verifiers, a kill every 0.2 to 1 s.
        public init() {
            executable = currentExecutable()
            commandLine = CommandLine.arguments.joined(separator: " ")
        }
    }

    /// The bus settings of the chaos session: durable, as by default, with a 1 s heartbeat, a 10 s
    /// lease and a janitor pass every 250 ms, so the final `planbus janitor --watch` (a lease and
    /// a heartbeat) is short. Holders killed on this host are found dead by their pid at the next
    /// janitor pass, whatever the lease.
    public static let busSettings = ["heartbeat: 1s", "lease: 10s", "janitor: 250ms"]
    /// The supervisor settings: restarts never mark a role failed (up to 1000 a minute), and the
    /// restart backoff stays between 100 ms and 1 s, as a process is killed every few seconds.
    public static let supervisorSettings = [
        "restart_backoff: 100ms", "restart_backoff_max: 1s", "restart_intensity: 1000", "restart_period: 1m",
        "stable_after: 2s", "stop_grace: 5s", "start_timeout: 1m",
    ]
    /// How often the driver looks at the run's status and the clock.
    static let pollInterval: Duration = .milliseconds(20)
    /// How long a run with dead letters on the bus may show no change in its status before the
    /// driver stops waiting for it.
    static let stallLimit: Duration = .seconds(60)

    /// What this run does.
    public let configuration: Configuration
    private let progress: @Sendable (String) -> Void

    /// A chaos run; `progress` receives one human-readable line per step and kill (for stderr).
    public init(configuration: Configuration, progress: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.progress = progress
    }

    /// Runs the plan under chaos, then the checks, and returns the report.
    /// - Throws: ``BenchError`` `invalidArgument` for a bad configuration, `process` when the
    ///   roles never all run or the plan cannot be submitted; `LauncherError`, `BusError` or
    ///   `RoleError` when the session cannot be made. A check that fails is in the report, not
    ///   thrown.
    public func run() async throws -> ChaosReport {
        let c = configuration
        guard (1...10_000).contains(c.tasks), (1...64).contains(c.builders), (1...16).contains(c.verifiers),
            c.minInterval >= 0.01, c.maxInterval >= c.minInterval, c.maxInterval <= 3600
        else {
            throw BenchError(
                .invalidArgument,
                "tasks must be from 1 to 10000, builders from 1 to 64, verifiers from 1 to 16, and the kill "
                    + "intervals at least 0.01 s with the longest not below the shortest")
        }
        let seed = c.seed ?? ChaosRandom.freshSeed()
        var random = ChaosRandom(seed: seed)
        let scratch = try BenchDirectory(parent: c.parentDirectory)
        let clock = ContinuousClock()
        let start = clock.now
        var report = ChaosReport(configuration: c, seed: seed, machine: MachineInfo(path: scratch.root))
        defer {
            if c.keep {
                progress("leaving the scratch directory \(scratch.root)")
            } else {
                scratch.removeAll()
            }
        }
        if c.keep { report.keptDirectory = scratch.root }
        progress("seed \(seed); scratch directory \(scratch.root)")

        let session = try RunSession(
            folder: try scratch.phase("chaos"), executable: c.executable, builders: c.builders, verifiers: c.verifiers,
            busSettings: Self.busSettings, supervisor: Self.supervisorSettings)
        do {
            _ = try await Git.create(
                at: session.repository, files: [("README", "planbus bench chaos\n")], message: "start")
            try FileOps.writeAtomically(
                Array(ChaosPlanText.plan(name: "chaos", repository: session.repository, tasks: c.tasks).utf8),
                to: session.planFile, stagingDirectory: session.folder, mode: 0o644, durable: false)
        } catch let error as RoleError {
            throw BenchError(.unexpectedState, "cannot make the repository \(session.repository): \(error.message)")
        }
        let killer = ChaosKiller(bus: session.bus, files: session.files)
        var up = try await startUp(session)

        progress("every role runs; submitting \(c.tasks) tasks")
        let submitted = clock.now
        do {
            _ = try await session.submit(run: ChaosReport.run)
        } catch {
            await session.stop(up, timeout: .seconds(20))
            throw error
        }
        var status = RunStatusFile(path: session.statusPath(run: ChaosReport.run))
        var nextKill = clock.now + gap(&random)
        var supervisorKilled = false
        var supervisorProblems: [String] = []
        var lastProgress = clock.now
        var finished = false
        var lastState: RunStatusFile.State?
        var lastChange = clock.now
        while clock.now - submitted < c.timeout {
            let state = status.poll()
            if state?.finished == true {
                finished = true
                break
            }
            if let exit = up.exitStatus {
                supervisorProblems.append("planbus up (pid \(up.pid)) ended by itself with \(exit)")
                break
            }
            if state != lastState {
                lastState = state
                lastChange = clock.now
            }
            if clock.now - lastProgress >= .seconds(10) {
                progress("\(state?.integrated ?? 0) of \(c.tasks) integrated; \(report.kills.count) kills")
                lastProgress = clock.now
                // A run that shows no change for a minute while a dead letter waits (the planner
                // takes one within a janitor pass) or while every queue is idle is stuck: a bug
                // the checks then name, not a reason to wait until the time-out.
                if clock.now - lastChange >= Self.stallLimit, hasDeadLetters(session.bus) || queuesIdle(session.bus) {
                    progress(
                        "no change for \(DurationText.format(Self.stallLimit)) with dead letters on the bus or "
                            + "every queue idle: stopping")
                    break
                }
            }
            if !supervisorKilled, let state, state.integrated * 2 >= c.tasks {
                supervisorKilled = true
                let victims = killer.targets(supervisor: up.pid).compactMap(\.pid)
                let kill = killer.killSupervisor(up)
                report.kills.append(kill)
                progress(
                    "kill \(report.kills.count): the supervisor, pid \(up.pid), holding \(kill.held.count) claim(s)")
                _ = await up.wait()
                guard
                    await pollUntil(timeout: .seconds(30), every: Self.pollInterval, { ChaosKiller.allGone(victims) })
                        != nil
                else {
                    throw BenchError(.process, "the roles of the killed supervisor still run 30 s later: \(victims)")
                }
                up = try await startUp(session)
                progress("planbus up started again (pid \(up.pid)); every role runs")
                nextKill = clock.now + gap(&random)
            } else if clock.now >= nextKill {
                if let kill = killer.killRole(supervisor: up.pid, random: &random) {
                    report.kills.append(kill)
                    progress(
                        "kill \(report.kills.count): \(kill.role)#\(kill.instance ?? 0) pid \(kill.pid), holding "
                            + (kill.held.map { "\($0.role) \($0.id) e\($0.epoch)" }.joined(separator: ", ")
                                .nonEmpty ?? "nothing"))
                }
                nextKill = clock.now + gap(&random)
            }
            try? await Task.sleep(for: Self.pollInterval)
        }
        report.runSeconds = (clock.now - submitted).seconds
        progress(
            finished
                ? "the run finished after \(format(report.runSeconds)) s; \(report.kills.count) kills; waiting for the queues to empty"
                : "the run did NOT finish within \(DurationText.format(c.timeout))\n" + session.logTail())

        // The planner's finish is not the end of the work: the docs role may still write changelog
        // entries, and the last acks publish nothing that needs a claim, but may still be in flight.
        if finished {
            let quiet = await pollUntil(timeout: .seconds(120), every: .milliseconds(50)) {
                up.exitStatus != nil || queuesIdle(session.bus)
            }
            if quiet == nil { progress("the queues did not empty within 120 s") }
        }
        progress("planbus down")
        let down = try? await ProgramRun.run(
            [c.executable, "down", "--config", session.config, "--json"], directory: session.folder,
            timeout: .seconds(120))
        if down?.succeeded != true {
            supervisorProblems.append(
                "planbus down ended with \(down?.exit.map { "\($0)" } ?? "a time-out"): \(down?.stderr ?? "")")
        }
        if await pollUntil(timeout: .seconds(30), every: Self.pollInterval, { up.exitStatus != nil }) == nil {
            supervisorProblems.append("planbus up still ran 30 s after planbus down")
            await session.stop(up, timeout: .seconds(10))
        }
        progress("planbus janitor --watch")
        let janitor = try? await ProgramRun.run(
            [c.executable, "janitor", "--watch", "--json", "--config", session.config], directory: session.folder,
            timeout: .seconds(120))
        if let janitor, janitor.succeeded, let json = try? JSONValue.parse(Array(janitor.stdout.utf8)) {
            report.janitor = json
        } else {
            supervisorProblems.append("planbus janitor failed: \(janitor?.stderr ?? "it could not start")")
        }

        progress("checking")
        let findings = await ChaosChecks(
            bus: session.bus, repository: session.repository, run: ChaosReport.run, tasks: c.tasks,
            status: session.statusPath(run: ChaosReport.run)
        ).make()
        report.checks = findings.checks
        report.checks.append(
            ChaosCheck("supervision", problems: supervisorProblems, ok: "up, down and janitor as expected"))
        report.deadLetters = findings.deadLetters
        let reader = JournalReader(layout: session.bus.layout)
        report.recovery = ChaosRecovery(kills: report.kills, events: reader.runs().flatMap { reader.events(run: $0) })
        if !report.recovery.unrecovered.isEmpty {
            report.checks.append(
                ChaosCheck(
                    "every held claim recovered",
                    problems: report.recovery.unrecoveredHistories, ok: ""))
        }
        report.totalSeconds = (clock.now - start).seconds
        report.machine.loadAverageAfter = MachineInfo.loadAverage()
        return report
    }

    /// Starts `planbus up` and waits until it shows every role running.
    private func startUp(_ session: RunSession) async throws -> ChildProcess {
        let up = try session.up()
        let running = await pollUntil(timeout: .seconds(60), every: Self.pollInterval) {
            up.exitStatus != nil || session.allRunning(supervisor: up.pid)
        }
        guard running != nil, up.exitStatus == nil else {
            await session.stop(up, timeout: .seconds(20))
            throw BenchError(.process, "not every role ran within 60 s of planbus up\n" + session.logTail())
        }
        return up
    }

    /// The next gap between two kills, drawn uniformly from the configured interval.
    private func gap(_ random: inout ChaosRandom) -> Duration {
        let unit = Double(random.next() >> 11) / Double(1 << 53)
        let c = configuration
        return .milliseconds(Int(((c.minInterval + unit * (c.maxInterval - c.minInterval)) * 1000).rounded()))
    }

    /// True when some queue of `bus` holds a dead letter.
    private func hasDeadLetters(_ bus: Bus) -> Bool {
        ((try? bus.roles()) ?? []).contains { DirectoryScan.hasVisibleEntry(bus.layout.dead($0)) }
    }

    /// True when no queue of `bus` holds an envelope in `new/`, `cur/` or `retry/`.
    private func queuesIdle(_ bus: Bus) -> Bool {
        let roles = (try? bus.roles()) ?? []
        return roles.allSatisfy { role in
            !DirectoryScan.hasVisibleEntry(bus.layout.new(role)) && !DirectoryScan.hasVisibleEntry(bus.layout.cur(role))
                && !DirectoryScan.hasVisibleEntry(bus.layout.retry(role))
        }
    }
}

extension String {
    /// The string, or `nil` when it is empty.
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
