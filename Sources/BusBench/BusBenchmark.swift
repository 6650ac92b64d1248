import Bus

#if canImport(Glibc)
    import Glibc
#endif

/// The bus benchmark behind `planbus bench bus`.
///
/// In one run it measures, on a scratch directory:
/// 1. the floor: the bus's per-envelope system calls with no bus logic (``SyscallFloor``), and
///    three primitives alone (create+write+rename, `O_EXCL` create, rename);
/// 2. the bus's own code for one envelope at a time in one thread (``BusSequenceBench``), to
///    separate the cost of its logic from the cost of waking and of separate processes;
/// 3. publish→wake→claim→read→ack throughput with 1 and 4 consumer processes, non-durable and
///    durable, and its ratio to the floor of the same mode;
/// 4. wake latency in inotify and in poll mode;
/// 5. `planbus log --run R` on a bus of 100,000 envelopes, and on a bus holding that run alone.
///
/// Figures are reported, never asserted: ``BenchReport/targetsMet`` says which targets the
/// figures meet, and the benchmark succeeds either way.
public struct BusBenchmark: Sendable {
    /// What to run, and how much of it.
    public struct Configuration: Sendable {
        /// Envelopes per non-durable throughput case and per floor loop.
        public var count: Int
        /// Envelopes per durable throughput case and durable floor loop (fsyncs make them slow).
        public var durableCount: Int
        /// Wake-latency samples in inotify mode.
        public var inotifySamples: Int
        /// Wake-latency samples in poll mode.
        public var pollSamples: Int
        /// The poll period of the poll-mode measurement.
        public var pollMs: Int
        /// Envelopes of the other runs on the large bus of the log query.
        public var logEnvelopes: Int
        /// How many other runs they are spread over.
        public var logRuns: Int
        /// Timed `planbus log` runs per bus.
        public var logRepeats: Int
        /// Where the scratch directory is made (the system temporary directory when `nil`).
        public var parentDirectory: String?
        /// Leave the scratch directory in place at the end: the performance report makes it in its
        /// own and removes everything once every benchmark is done, so no benchmark runs right
        /// after another one's files were deleted.
        public var keep = false
        /// The `planbus` executable that provides `bench bus-consumer` and `log`.
        public var executable: String
        /// Whether this is the short `--quick` run.
        public var quick: Bool
        /// The command line, as recorded in the report.
        public var commandLine: String

        /// The full run (about two minutes on 2 cores), or with `quick`, a run of about 20 s.
        /// - Parameters:
        ///   - quick: smaller counts everywhere.
        ///   - count: overrides the number of envelopes per non-durable case.
        ///   - durableCount: overrides the number per durable case (default: count / 20, at least 100).
        public init(quick: Bool = false, count: Int? = nil, durableCount: Int? = nil) {
            self.quick = quick
            let n = count ?? (quick ? 2_000 : 20_000)
            self.count = n
            self.durableCount = durableCount ?? max(100, n / 20)
            inotifySamples = quick ? 200 : 1_000
            pollSamples = quick ? 20 : 100
            pollMs = 50
            logEnvelopes = quick ? 10_000 : 100_000
            logRuns = quick ? 100 : 1_000
            logRepeats = quick ? 3 : 7
            parentDirectory = nil
            executable = currentExecutable()
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

    /// Runs every measurement and returns the report. The scratch directory is removed at the end.
    /// - Throws: ``BenchError`` (or the bus's or launcher's error) when a measurement cannot run.
    public func run() async throws -> BenchReport {
        let c = configuration
        guard c.count >= 10, c.durableCount >= 10, c.pollMs >= 10 else {
            throw BenchError(.invalidArgument, "--count and --durable-count must be at least 10")
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
        var report = BenchReport(configuration: c, machine: MachineInfo(path: scratch.root))
        progress("scratch directory \(scratch.root) (\(report.machine.filesystem), \(report.machine.cpus) CPUs)")

        let floor = try makeFloor(in: scratch)
        report.floor = try measureFloor(floor)

        let throughput = ThroughputBench(scratch: scratch, executable: c.executable, progress: progress)
        for durable in [false, true] {
            for consumers in [1, 4] {
                let setup = ThroughputCase(
                    consumers: consumers, durable: durable, count: durable ? c.durableCount : c.count)
                // The floor again, just before the case: file creation speed drifts on a shared machine.
                let adjacent = try floor.sequence(count: setup.count, durable: durable, label: "before-" + setup.key)
                progress("throughput: \(setup.count) envelopes, \(consumers) consumer process(es), durable \(durable)")
                var result = try await throughput.measure(setup)
                result.adjacentFloor = adjacent
                progress(
                    "  \(Int(result.endToEnd.perSecond)) envelopes/s end to end "
                        + "(publishing alone \(Int(result.publishing.perSecond))/s; floor just before: "
                        + "\(Int(adjacent.perSecond))/s)")
                report.throughput.append(result)
            }
        }

        // What-if: the same loop without a heartbeat writer, to show what heartbeats cost a BusWorker.
        let whatIf = ThroughputCase(consumers: 1, durable: false, count: c.count, heartbeat: false)
        let whatIfFloor = try floor.sequence(count: whatIf.count, durable: false, label: "before-" + whatIf.key)
        progress("throughput what-if: \(whatIf.count) envelopes, 1 consumer process without heartbeat writes")
        var whatIfResult = try await throughput.measure(whatIf)
        whatIfResult.adjacentFloor = whatIfFloor
        progress(
            "  \(Int(whatIfResult.endToEnd.perSecond)) envelopes/s end to end (floor just before: \(Int(whatIfFloor.perSecond))/s)"
        )
        report.throughput.append(whatIfResult)

        let wake = WakeLatencyBench(scratch: scratch)
        progress("wake latency, inotify: \(c.inotifySamples) samples")
        report.wakeInotify = try await wake.measure(mode: .inotify, samples: c.inotifySamples, pollMs: c.pollMs)
        progress("wake latency, poll every \(c.pollMs) ms: \(c.pollSamples) samples")
        report.wakePoll = try await wake.measure(mode: .poll, samples: c.pollSamples, pollMs: c.pollMs)

        progress(
            "log query: filling a bus with \(c.logEnvelopes) envelopes in \(c.logRuns) runs, plus a 100-envelope run")
        report.logQuery = try await LogQueryBench(scratch: scratch, executable: c.executable, progress: progress)
            .measure(otherEnvelopes: c.logEnvelopes, runs: c.logRuns, repeats: c.logRepeats)

        // Last: heartbeat rewrites delete inodes, which slows later file creation on some filesystems.
        let sequence = BusSequenceBench(scratch: scratch)
        progress("bus code, one envelope at a time in one thread (publish, claim, ack)")
        for (durable, heartbeat) in [(false, false), (false, true), (true, true)] {
            // A diagnostic: a quarter (half when durable) of the throughput counts is enough.
            let n = durable ? max(10, c.durableCount / 2) : max(10, c.count / 4)
            let adjacent = try floor.sequence(
                count: n, durable: durable, label: "before-code-\(durable ? "durable" : "plain")-\(heartbeat)")
            var result = try sequence.measure(count: n, durable: durable, heartbeat: heartbeat)
            result.adjacentFloor = adjacent
            progress(
                "  durable \(durable), heartbeat \(heartbeat): \(Int(result.total.perSecond)) envelopes/s "
                    + "(publish \(format(result.publish.microsecondsPerOperation)) µs, claim "
                    + "\(format(result.claim.microsecondsPerOperation)) µs, ack \(format(result.ack.microsecondsPerOperation)) µs; "
                    + "floor just before: \(Int(adjacent.perSecond))/s)")
            report.sequential.append(result)
        }

        report.totalSeconds = (clock.now - start).seconds
        report.machine.loadAverageAfter = MachineInfo.loadAverage()
        return report
    }

    private func makeFloor(in scratch: BenchDirectory) throws -> SyscallFloor {
        let c = configuration
        let dir = try scratch.phase("floor")
        let producer = try WorkerID.current(role: "bench-producer")
        let consumer = try WorkerID.current(role: ThroughputBench.role)
        let sample = Envelope(
            run: ThroughputBench.run, kind: "bench", from: producer, to: ThroughputBench.role,
            body: ["i": .number(Double(c.count / 2))])
        let lines = [
            JournalEvent(.publish, envelope: sample, role: ThroughputBench.role, worker: producer.description),
            JournalEvent(.claim, envelope: sample, role: ThroughputBench.role, epoch: 1, worker: consumer.description),
            JournalEvent(
                event: .ack, id: sample.id, role: ThroughputBench.role, epoch: 1, worker: consumer.description),
        ].map { Array(($0.json.serialized() + "\n").utf8) }
        let ids = (0..<max(c.count, c.durableCount)).map { _ in EnvelopeID.make() }
        return SyscallFloor(
            directory: dir, envelope: try sample.encoded(), journalLines: lines, ids: ids,
            claimSuffix: ".e1@" + consumer.description + ".json", day: QueueNames.day(of: ids[0]))
    }

    private func measureFloor(_ floor: SyscallFloor) throws -> FloorResult {
        let c = configuration
        var result = FloorResult()
        progress("floor: bus syscall sequence, \(c.count) envelopes non-durable, \(c.durableCount) durable")
        var cpu = CPUTime.ofSelf()
        result.sequence = try floor.sequence(count: c.count, durable: false, label: "plain")
        result.sequenceCPUSeconds = CPUTime.ofSelf() - cpu
        cpu = CPUTime.ofSelf()
        result.durableSequence = try floor.sequence(count: c.durableCount, durable: true, label: "durable")
        result.durableSequenceCPUSeconds = CPUTime.ofSelf() - cpu
        progress(
            "  \(Int(result.sequence.perSecond)) envelopes/s non-durable, \(Int(result.durableSequence.perSecond))/s durable"
        )
        progress("floor: primitives")
        result.createWriteRename = try floor.createWriteRename(count: c.count, durable: false)
        result.createWriteRenameDurable = try floor.createWriteRename(count: c.durableCount, durable: true)
        result.exclusiveCreate = try floor.exclusiveCreate(count: c.count)
        result.rename = try floor.renames(count: c.count)
        return result
    }
}

/// The floor figures.
public struct FloorResult: Sendable {
    /// The bus's per-envelope system calls, non-durable.
    public var sequence = Rate(count: 0, seconds: 0)
    /// CPU seconds the non-durable sequence took.
    public var sequenceCPUSeconds = 0.0
    /// The same with the bus's fsyncs.
    public var durableSequence = Rate(count: 0, seconds: 0)
    /// CPU seconds the durable sequence took.
    public var durableSequenceCPUSeconds = 0.0
    /// create `O_EXCL` + write 512 B + close + rename.
    public var createWriteRename = Rate(count: 0, seconds: 0)
    /// The same with fsync of the file and of the target folder.
    public var createWriteRenameDurable = Rate(count: 0, seconds: 0)
    /// create `O_EXCL` + close.
    public var exclusiveCreate = Rate(count: 0, seconds: 0)
    /// rename between two folders.
    public var rename = Rate(count: 0, seconds: 0)
}

/// Where the benchmark ran.
public struct MachineInfo: Sendable {
    /// Online CPUs.
    public var cpus: Int
    /// The filesystem of the scratch directory.
    public var filesystem: String
    /// `uname -sr`.
    public var kernel: String
    /// `debug` or `release`.
    public var build: String
    /// 1, 5 and 15-minute load averages when the run started.
    public var loadAverageBefore: [Double]
    /// The same when the run ended.
    public var loadAverageAfter: [Double] = []

    /// The JSON form every benchmark report carries as `machine`.
    public var json: JSONValue {
        [
            "cpus": .number(Double(cpus)), "filesystem": .string(filesystem), "kernel": .string(kernel),
            "build": .string(build), "load_average_before": .array(loadAverageBefore.map { rounded($0, 2) }),
            "load_average_after": .array(loadAverageAfter.map { rounded($0, 2) }),
        ]
    }

    init(path: String) {
        cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        filesystem = (try? FilesystemKind.of(path).description) ?? "unknown"
        var names = utsname()
        uname(&names)
        let system = withUnsafeBytes(of: names.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        kernel = system + " " + release
        #if DEBUG
            build = "debug"
        #else
            build = "release"
        #endif
        loadAverageBefore = Self.loadAverage()
    }

    static func loadAverage() -> [Double] {
        var loads = [Double](repeating: 0, count: 3)
        let n = getloadavg(&loads, 3)
        return n == 3 ? loads : []
    }
}
