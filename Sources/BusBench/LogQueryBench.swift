import Bus
import Launcher
import Processes

/// What the `planbus log --run R` measurement found.
public struct LogQueryResult: Sendable {
    /// Envelopes on the large bus, every run included.
    public var busEnvelopes: Int
    /// Runs on the large bus, the queried one included.
    public var runs: Int
    /// Envelopes in the queried run.
    public var targetRunEnvelopes: Int
    /// Seconds it took to fill the large bus.
    public var buildSeconds: Double
    /// `planbus log --run R` on the large bus, process start to exit.
    public var large: LatencySummary
    /// The same query on a bus that holds the queried run alone.
    public var small: LatencySummary
    /// The query on the large bus again, after more of the other runs' envelopes were claimed and
    /// left held: `log` must stay independent of how full other runs keep `cur/`.
    public var largeManyClaims: LatencySummary
    /// Claims of other runs held in `cur/` during ``largeManyClaims``.
    public var heldOtherClaims: Int
    /// Lines the query printed (one per envelope of the run).
    public var printedLines: Int
}

/// Times `planbus log --run R`, as a real process, on a bus holding many other runs.
///
/// The large bus holds `otherEnvelopes` envelopes spread over `runs` runs, published with
/// `Publisher` (non-durable) and then, per run, 80 % claimed and acked and 1 % claimed and left
/// held, the rest waiting; the queried run has 100 envelopes: 60 acked, 10 held, 30 waiting. Held
/// claims make `log` look into `cur/`, which the other runs' claims also fill.
struct LogQueryBench: Sendable {
    let scratch: BenchDirectory
    let executable: String
    let progress: @Sendable (String) -> Void
    static let role = "bench"
    static let targetRun = "bench-target"

    func measure(otherEnvelopes: Int, runs: Int, repeats: Int) async throws -> LogQueryResult {
        let targetEnvelopes = 100
        let largeDir = try scratch.phase("log-large")
        let clock = ContinuousClock()
        let start = clock.now
        let (large, targetNames) = try build(at: largeDir + "/bus", otherEnvelopes: otherEnvelopes, runs: runs)
        let buildSeconds = (clock.now - start).seconds
        let smallDir = try scratch.phase("log-small")
        let small = try build(at: smallDir + "/bus", otherEnvelopes: 0, runs: 0).bus

        progress("timing `planbus log --run \(Self.targetRun)` (\(repeats) runs per bus)")
        let outputFile = largeDir + "/log-output.txt"
        _ = try await query(large, stdout: .file(outputFile))
        let printed = countLines(outputFile)
        var largeTimes: [Duration] = []
        var smallTimes: [Duration] = []
        _ = try await query(small, stdout: .null)
        for _ in 0..<repeats {
            largeTimes.append(try await query(large, stdout: .null))
            smallTimes.append(try await query(small, stdout: .null))
        }
        let held = try holdMore(on: large, total: otherEnvelopes / 10, sparing: targetNames)
        progress("timing it again with \(held) claims of other runs held in cur/")
        var manyClaimsTimes: [Duration] = []
        for _ in 0..<repeats { manyClaimsTimes.append(try await query(large, stdout: .null)) }
        return LogQueryResult(
            busEnvelopes: otherEnvelopes + targetEnvelopes, runs: runs + 1, targetRunEnvelopes: targetEnvelopes,
            buildSeconds: buildSeconds, large: LatencySummary(largeTimes), small: LatencySummary(smallTimes),
            largeManyClaims: LatencySummary(manyClaimsTimes), heldOtherClaims: held, printedLines: printed)
    }

    /// Runs the query once; its duration from spawn to exit.
    private func query(_ bus: Bus, stdout: ChildProcess.Output) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let child = try ChildProcess.spawn(
            [executable, "log", "--bus", bus.layout.root, "--run", Self.targetRun], stdout: stdout, stderr: .inherit)
        let exit = await child.wait()
        let elapsed = clock.now - start
        guard exit == .exited(0) else { throw BenchError(.process, "planbus log ended with \(exit)") }
        return elapsed
    }

    /// Fills a bus; returns it with the `new/` names of the queried run.
    private func build(at path: String, otherEnvelopes: Int, runs: Int) throws -> (bus: Bus, target: Set<String>) {
        var settings = BusSettings()
        settings.durable = false
        let bus = try Bus.create(at: path, settings: settings, roles: [Self.role]).bus
        let producer = try WorkerID.current(role: "bench-producer")
        let publisher = Publisher(bus: bus, worker: producer)
        let queue = try RoleQueue(bus: bus, role: Self.role, worker: try WorkerID.current(role: Self.role))
        let perRun = runs > 0 ? otherEnvelopes / runs : 0
        var target: [String] = []
        for r in 0..<runs {
            if r % 100 == 0 && r > 0 { progress("  \(r * perRun) envelopes written") }
            let digits = String(r)
            let run = "bench-run-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
            _ = try fill(run: run, count: perRun, acked: perRun * 80 / 100, held: perRun / 100, publisher, queue)
            if r == runs / 2 {
                target = try fill(run: Self.targetRun, count: 100, acked: 60, held: 10, publisher, queue)
            }
        }
        if runs == 0 { target = try fill(run: Self.targetRun, count: 100, acked: 60, held: 10, publisher, queue) }
        return (bus, Set(target))
    }

    /// Claims waiting envelopes of other runs until `total` claims of other runs are held; returns
    /// how many are held.
    private func holdMore(on bus: Bus, total: Int, sparing target: Set<String>) throws -> Int {
        let queue = try RoleQueue(bus: bus, role: Self.role, worker: try WorkerID.current(role: Self.role))
        var held = DirectoryScan.countVisible(bus.layout.cur(Self.role)) - 10
        for name in try queue.pendingNames() where held < total && !target.contains(name) {
            if case .claimed = try queue.claim(name) { held += 1 }
        }
        return held
    }

    /// Publishes `count` envelopes of `run`, acks the first `acked`, claims the next `held`; returns
    /// their `new/` names.
    private func fill(
        run: String, count: Int, acked: Int, held: Int, _ publisher: Publisher, _ queue: RoleQueue
    ) throws -> [String] {
        var names: [String] = []
        names.reserveCapacity(count)
        for i in 0..<count {
            let receipt = try publisher.publish(
                Envelope(
                    run: run, task: "t" + String(i % 10), kind: "bench", from: publisher.worker, to: Self.role,
                    body: ["i": .number(Double(i))]),
                durable: false)
            names.append(FileOps.baseName(receipt.path))
        }
        for (i, name) in names.prefix(acked + held).enumerated() {
            guard case .claimed(let claim) = try queue.claim(name) else {
                throw BenchError(.unexpectedState, "could not claim \(name) while filling the bus")
            }
            if i < acked { try queue.ack(claim) }
        }
        return names
    }

    private func countLines(_ path: String) -> Int {
        guard case .bytes(let bytes) = FileOps.readRegular(path, limit: 1 << 26) else { return 0 }
        return bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}
