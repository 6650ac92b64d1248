import Bus
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// What the queries over one large run's journal took.
public struct JournalQueryResult: Sendable {
    /// Envelopes in the run (each with a publish, a claim and an ack line).
    public var envelopes: Int
    /// Journal lines written.
    public var lines: Int
    /// Seconds it took to write the journal.
    public var buildSeconds: Double
    /// `planbus log --run R` (every envelope, one line each, to /dev/null), spawn to exit.
    public var log: LatencySummary
    /// `planbus status R --json`, spawn to exit (it reads the run's journal twice: task times and
    /// dead letters).
    public var status: LatencySummary
    /// In this process: `JournalReader.events(run:)`, the run's journal read and parsed.
    public var read: LatencySummary
    /// In this process: `Timeline.entries`, the events folded into one state per envelope.
    public var fold: LatencySummary
    /// Lines `planbus log` printed in the untimed check run.
    public var printedLines: Int

    /// The result as JSON.
    public var json: JSONValue {
        func ms(_ s: LatencySummary) -> JSONValue {
            [
                "runs": .number(Double(s.sortedMicroseconds.count)), "min": rounded(s.min / 1000, 1),
                "p50": rounded(s.p50 / 1000, 1), "max": rounded(s.max / 1000, 1),
            ]
        }
        return [
            "run_envelopes": .number(Double(envelopes)), "journal_lines": .number(Double(lines)),
            "build_seconds": rounded(buildSeconds, 2), "printed_lines": .number(Double(printedLines)),
            "log_command": "planbus log --bus DIR --run bench-journal", "log_ms": ms(log),
            "status_command": "planbus status bench-journal --bus DIR --json", "status_ms": ms(status),
            "journal_read_ms": ms(read), "timeline_fold_ms": ms(fold),
        ]
    }
}

/// Times the queries of one run whose journal holds `envelopes` acked envelopes.
///
/// The journal is written directly, as the bus writes it (one `.jsonl` file per worker: the
/// producer's publish lines, the consumer's claim and ack lines), without the envelope files: the
/// queries read only the journal for envelopes the journal says are done, so the files would not
/// change what is measured, and writing them would take minutes. `status.json` lists 100 tasks, as
/// the planner would, each envelope belonging to one of them.
struct JournalQueryBench: Sendable {
    let scratch: BenchDirectory
    let executable: String
    let progress: @Sendable (String) -> Void
    static let run = "bench-journal"
    static let role = "bench"

    func measure(envelopes: Int, repeats: Int) async throws -> JournalQueryResult {
        let dir = try scratch.phase("journal-large")
        let clock = ContinuousClock()
        let start = clock.now
        let bus = try build(at: dir + "/bus", envelopes: envelopes)
        let buildSeconds = (clock.now - start).seconds
        progress("  journal of \(envelopes) envelopes written in \(format(buildSeconds, 2)) s")

        let output = dir + "/log-output.txt"
        _ = try await spawn(["log", "--bus", bus.layout.root, "--run", Self.run], stdout: .file(output))
        let printed = countLines(output)
        _ = try await spawn(["status", Self.run, "--bus", bus.layout.root, "--json"], stdout: .null)
        var log: [Duration] = []
        var status: [Duration] = []
        var read: [Duration] = []
        var fold: [Duration] = []
        let reader = JournalReader(layout: bus.layout)
        let timeline = Timeline(bus: bus)
        for _ in 0..<repeats {
            log.append(try await spawn(["log", "--bus", bus.layout.root, "--run", Self.run], stdout: .null))
            status.append(try await spawn(["status", Self.run, "--bus", bus.layout.root, "--json"], stdout: .null))
            let t0 = clock.now
            let events = reader.events(run: Self.run)
            let t1 = clock.now
            let entries = timeline.entries(run: Self.run, events: events)
            let t2 = clock.now
            guard entries.count == envelopes else {
                throw BenchError(.unexpectedState, "the fold gave \(entries.count) entries for \(envelopes) envelopes")
            }
            read.append(t1 - t0)
            fold.append(t2 - t1)
        }
        return JournalQueryResult(
            envelopes: envelopes, lines: envelopes * 3, buildSeconds: buildSeconds, log: LatencySummary(log),
            status: LatencySummary(status), read: LatencySummary(read), fold: LatencySummary(fold),
            printedLines: printed)
    }

    private func spawn(_ arguments: [String], stdout: ChildProcess.Output) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let child = try ChildProcess.spawn([executable] + arguments, stdout: stdout, stderr: .inherit)
        let exit = await child.wait()
        let elapsed = clock.now - start
        guard exit == .exited(0) else {
            throw BenchError(.process, "planbus \(arguments.joined(separator: " ")) ended with \(exit)")
        }
        return elapsed
    }

    /// A bus whose run holds `envelopes` acked envelopes in its journal, and a `status.json`.
    private func build(at path: String, envelopes: Int) throws -> Bus {
        var settings = BusSettings()
        settings.durable = false
        let bus = try Bus.create(at: path, settings: settings, roles: [Self.role]).bus
        let producer = try WorkerID.current(role: "bench-producer")
        let consumer = try WorkerID.current(role: Self.role)
        let journal = bus.layout.journal(Self.run)
        try FileOps.makeDirectories(journal, mode: Bus.directoryMode)
        let published = try LineFile(journal + "/" + producer.description + ".jsonl")
        let handled = try LineFile(journal + "/" + consumer.description + ".jsonl")
        for i in 0..<envelopes {
            let envelope = Envelope(
                run: Self.run, task: "t" + String(i % 100), kind: "bench", from: producer, to: Self.role,
                body: ["i": .number(Double(i))])
            try published.append(
                JournalEvent(.publish, envelope: envelope, role: Self.role, worker: producer.description))
            try handled.append(
                JournalEvent(.claim, envelope: envelope, role: Self.role, epoch: 1, worker: consumer.description))
            try handled.append(
                JournalEvent(event: .ack, id: envelope.id, role: Self.role, epoch: 1, worker: consumer.description))
        }
        try published.close()
        try handled.close()
        let tasks: [JSONValue] = (0..<100).map { ["id": .string("t\($0)"), "state": "integrated"] }
        let status: JSONValue = [
            "run": .string(Self.run), "state": "finished", "finished": true, "tasks": .array(tasks),
        ]
        try FileOps.writeAtomically(
            Array(status.serialized().utf8), to: bus.layout.run(Self.run) + "/status.json",
            stagingDirectory: bus.layout.tmp, mode: Bus.fileMode, durable: false)
        return bus
    }

    private func countLines(_ path: String) -> Int {
        guard case .bytes(let bytes) = FileOps.readRegular(path, limit: 1 << 28) else { return 0 }
        return bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}

/// Journal lines appended to one file through a 1 MiB buffer.
private final class LineFile {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []

    init(_ path: String) throws(BenchError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError(.io, "cannot open \(path)", errno: errno) }
        buffer.reserveCapacity(1 << 20)
    }

    func append(_ event: JournalEvent) throws(BenchError) {
        buffer += Array((event.json.serialized() + "\n").utf8)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws(BenchError) {
        do {
            try FileOps.writeAll(fd, buffer, path: path)
        } catch {
            throw BenchError(.io, error.description)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws(BenchError) {
        try flush()
        _ = Glibc.close(fd)
    }
}
