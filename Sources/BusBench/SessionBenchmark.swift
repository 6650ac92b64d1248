import Bus
import FileFormats
import Launcher

/// The supervision benchmark behind `planbus bench session`.
///
/// Every measurement runs the real supervisor, `planbus up --lines`, as a child process of this
/// executable, on a scratch bus with a `planbus.yaml` the benchmark writes; the roles it starts
/// are `planbus bench session-role` processes running ``BenchRole``. In one run it measures:
/// 1. `up` → every role heartbeats, with `instances` instances, against a floor measured just
///    before each run: as many `planbus --version` processes started in parallel, until the last
///    has exited (``SessionUpBench``);
/// 2. SIGKILL of a role holding an envelope → that envelope acked by its replacement, for each
///    lease, with the role under this host's name (a dead pid is seen at once) and under another
///    host's name (judged by its heartbeat alone, so the take-over waits for the lease)
///    (``SessionKillBench``).
///
/// Figures are reported, never asserted; a wrong outcome of a run (an envelope completed at
/// another epoch than 2, a take-over by an unexpected path) is counted in
/// ``SessionReport/errors`` and the benchmark goes on.
public struct SessionBenchmark: Sendable {
    /// How often the benchmark checks the conditions it waits for.
    static let pollInterval: Duration = .milliseconds(2)

    /// What to run, and how much of it.
    public struct Configuration: Sendable {
        /// The bus leases of the kill measurement.
        public var leases: [Duration]
        /// Repetitions of every measurement point.
        public var runs: Int
        /// Instances of the role in the `up` measurement.
        public var instances: Int
        /// The longest janitor period of the kill measurement.
        public var janitor: Duration = .milliseconds(100)
        /// The supervisor's restart backoff in the kill measurement (constant: `stable_after` is 0).
        public var restartBackoff: Duration = .milliseconds(100)
        /// Where the scratch directory is made (the system temporary directory when `nil`).
        public var parentDirectory: String?
        /// Leave the scratch directory in place at the end: the performance report makes it in its
        /// own and removes everything once every benchmark is done, so no benchmark runs right
        /// after another one's files were deleted.
        public var keep = false
        /// The `planbus` executable that provides `up` and `bench session-role`.
        public var executable: String
        /// Whether this is the short `--quick` run.
        public var quick: Bool
        /// The command line, as recorded in the report.
        public var commandLine: String

        /// The full run (leases 500 ms, 1 s, 2 s, 4 s; 3 runs each; 6 instances), or with
        /// `quick`, leases 500 ms and 1 s with 2 runs each.
        /// - Parameters:
        ///   - quick: fewer leases and runs.
        ///   - leases: overrides the leases.
        ///   - runs: overrides the repetitions.
        ///   - instances: overrides the instances of the `up` measurement.
        public init(quick: Bool = false, leases: [Duration]? = nil, runs: Int? = nil, instances: Int? = nil) {
            self.quick = quick
            self.leases = leases ?? (quick ? Self.quickLeases : Self.defaultLeases)
            self.runs = runs ?? (quick ? 2 : 3)
            self.instances = instances ?? 6
            parentDirectory = nil
            executable = currentExecutable()
            commandLine = CommandLine.arguments.joined(separator: " ")
        }

        /// The leases of the full run.
        public static let defaultLeases: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4)]
        /// The leases of the `--quick` run.
        public static let quickLeases: [Duration] = [.milliseconds(500), .seconds(1)]

        /// The heartbeat period used with `lease`: a fifth of it, at most 100 ms, at least 10 ms.
        public func heartbeat(for lease: Duration) -> Duration {
            .milliseconds(Swift.max(10, Swift.min(lease.milliseconds / 5, 100)))
        }

        /// The janitor period used with `lease`: ``janitor``, but at most a quarter of the lease
        /// (an idle role shows progress once per janitor pass, so the lease must span several), at
        /// least 10 ms.
        public func janitor(for lease: Duration) -> Duration {
            .milliseconds(Swift.max(10, Swift.min(lease.milliseconds / 4, janitor.milliseconds)))
        }
    }

    /// What this benchmark runs.
    public let configuration: Configuration
    private let progress: @Sendable (String) -> Void

    /// A benchmark; `progress` receives one human-readable line per step (for stderr).
    public init(configuration: Configuration, progress: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.progress = progress
    }

    /// Runs every measurement and returns the report. The scratch directory is removed at the end.
    /// - Throws: ``BenchError`` when a measurement cannot run at all (a bad option, a supervisor
    ///   whose roles never all heartbeat); `LauncherError` or `BusError` when the scratch session
    ///   cannot be set up.
    public func run() async throws -> SessionReport {
        let c = configuration
        guard c.runs >= 1, (1...64).contains(c.instances), !c.leases.isEmpty else {
            throw BenchError(.invalidArgument, "--runs must be at least 1, --instances from 1 to 64, and a lease given")
        }
        for lease in c.leases where lease < .milliseconds(50) {
            throw BenchError(.invalidArgument, "a lease must be at least 50ms, got \(DurationText.format(lease))")
        }
        let scratch = try BenchDirectory(parent: c.parentDirectory)
        defer {
            if !c.keep {
                progress("removing the scratch directory")
                scratch.removeAll()
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        var report = SessionReport(configuration: c, machine: MachineInfo(path: scratch.root))
        progress("scratch directory \(scratch.root) (\(report.machine.filesystem), \(report.machine.cpus) CPUs)")

        let up = SessionUpBench(scratch: scratch, executable: c.executable, instances: c.instances)
        for run in 1...c.runs {
            progress("up → every role heartbeats: run \(run) of \(c.runs), \(c.instances) instances")
            let sample = try await up.measure(run: run)
            progress(
                "  heartbeat files after \(format(sample.heartbeatFiles * 1000)) ms, all running after "
                    + "\(format(sample.running * 1000)) ms; floor (\(c.instances) × planbus --version in parallel) "
                    + "\(format(sample.floorParallel * 1000)) ms")
            report.up.append(sample)
        }

        let kill = SessionKillBench(scratch: scratch, configuration: c)
        for mode in SessionKillMode.allCases {
            for lease in c.leases {
                progress(
                    "SIGKILL of a working role, \(mode.label), lease \(DurationText.format(lease)): \(c.runs) runs")
                let point = try await kill.measure(mode: mode, lease: lease) { run, outcome in
                    progress("  run \(run): \(outcome)")
                }
                report.errors += point.messages
                report.kills.append(point.point)
            }
        }

        report.totalSeconds = (clock.now - start).seconds
        report.machine.loadAverageAfter = MachineInfo.loadAverage()
        return report
    }
}
