import Bus
import Foundation
import Processes

/// The whole performance report behind `planbus bench report`: every benchmark, in one run, on
/// one machine.
///
/// In this order: the bus against Redis Streams (``BrokerComparisonBench``), the bus benchmark
/// (``BusBenchmark``), queries over one run of 100,000 envelopes (``JournalQueryBench``), the
/// supervision benchmark (``SessionBenchmark``), and the orchestration benchmark
/// (``RunBenchmark``) with the memory of every process of each session read idle and under load.
///
/// Every benchmark makes its files in one scratch directory, removed only once all have run: on
/// an ext4 without a journal, the inode allocator scans past the inodes deleted in the last
/// minutes, so removing one benchmark's hundreds of thousands of files would slow the file
/// creation of the next.
public struct PerformanceBenchmark: Sendable {
    /// What to run.
    public struct Configuration: Sendable {
        /// Smaller counts everywhere (a check that everything runs, not figures to quote).
        public var quick: Bool
        /// Where scratch directories are made (the system temporary directory when `nil`).
        public var parentDirectory: String?
        /// Envelopes in the run of the journal queries.
        public var journalEnvelopes: Int
        /// Timed repetitions of each journal query.
        public var journalRepeats: Int
        /// Round trips of the non-durable latency comparison.
        public var latencySamples: Int
        /// Round trips of the durable latency comparison.
        public var durableLatencySamples: Int
        /// Seconds each orchestration session stays idle before its memory is read.
        public var memoryIdleSeconds: Double
        /// The command line, as recorded in the report.
        public var commandLine: String

        /// The full report (about 8 minutes on 2 cores), or with `quick`, about 2 minutes.
        public init(quick: Bool = false) {
            self.quick = quick
            journalEnvelopes = quick ? 10_000 : 100_000
            journalRepeats = quick ? 3 : 5
            latencySamples = quick ? 200 : 2_000
            durableLatencySamples = quick ? 50 : 300
            memoryIdleSeconds = quick ? 1 : 3
            commandLine = CommandLine.arguments.joined(separator: " ")
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

    /// Runs everything and returns the report. The scratch directory is removed at the end.
    public func run() async throws -> PerformanceReport {
        let c = configuration
        let scratch = try BenchDirectory(parent: c.parentDirectory)
        defer {
            progress("removing the scratch directory \(scratch.root), with every part's files")
            scratch.removeAll()
        }
        let clock = ContinuousClock()
        let start = clock.now
        var report = PerformanceReport(configuration: c, machine: MachineInfo(path: scratch.root))
        report.commit = await Self.commit()

        var busConfiguration = BusBenchmark.Configuration(quick: c.quick)
        busConfiguration.parentDirectory = scratch.root
        busConfiguration.keep = true
        busConfiguration.commandLine = c.commandLine
        report.fileCreate.append(
            try FileCreateProbe.measure(label: "the bus against Redis Streams", in: try scratch.phase("probe-broker")))
        progress("1/5 the bus against Redis Streams")
        let counts = [false: busConfiguration.count, true: busConfiguration.durableCount]
        var broker = try await BrokerComparisonBench(scratch: scratch, progress: progress).measure(
            latencySamples: c.latencySamples, durableLatencySamples: c.durableLatencySamples,
            throughputCounts: counts)

        report.fileCreate.append(
            try FileCreateProbe.measure(label: "planbus bench bus", in: try scratch.phase("probe-bus")))
        progress("2/5 the bus against the syscall floor (planbus bench bus)")
        let bus = try await BusBenchmark(configuration: busConfiguration, progress: progress).run()
        for index in broker.modes.indices {
            broker.modes[index].busThroughput =
                bus.throughput.first {
                    $0.setup.consumers == 1 && $0.setup.durable == broker.modes[index].durable && $0.setup.heartbeat
                }?.endToEnd
        }
        report.bus = bus
        report.broker = broker

        progress("3/5 queries over one run of \(c.journalEnvelopes) envelopes")
        report.journal = try await JournalQueryBench(
            scratch: scratch, executable: currentExecutable(), progress: progress
        ).measure(envelopes: c.journalEnvelopes, repeats: c.journalRepeats)

        progress("4/5 supervision (planbus bench session)")
        var sessionConfiguration = SessionBenchmark.Configuration(quick: c.quick)
        sessionConfiguration.parentDirectory = scratch.root
        sessionConfiguration.keep = true
        sessionConfiguration.commandLine = c.commandLine
        report.session = try await SessionBenchmark(configuration: sessionConfiguration, progress: progress).run()

        progress("5/5 orchestration and memory (planbus bench run)")
        var runConfiguration = RunBenchmark.Configuration()
        runConfiguration.parentDirectory = scratch.root
        runConfiguration.keep = true
        runConfiguration.commandLine = c.commandLine
        runConfiguration.memoryIdleSeconds = c.memoryIdleSeconds
        if c.quick {
            runConfiguration.builders = [2, 8]
            runConfiguration.tasks = 16
            runConfiguration.stepSeconds = 0.5
            runConfiguration.bigTasks = 0
        }
        report.run = try await RunBenchmark(configuration: runConfiguration, progress: progress).run()

        report.totalSeconds = (clock.now - start).seconds
        report.machine.loadAverageAfter = MachineInfo.loadAverage()
        return report
    }

    /// The commit checked out in the current directory, with `+changes` when the tree differs
    /// from it; `nil` outside a git work tree.
    static func commit() async -> String? {
        guard let head = try? await ProgramRun.run(["git", "rev-parse", "--short", "HEAD"], timeout: .seconds(10)),
            head.succeeded
        else { return nil }
        let id = head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let status = try? await ProgramRun.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], timeout: .seconds(30))
        let dirty = status.map { $0.succeeded && !$0.stdout.isEmpty } ?? false
        return dirty ? id + "+changes" : id
    }
}
