import Bus
import Foundation
import Launcher
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// One publish→wake→claim→read→ack throughput measurement.
public struct ThroughputCase: Sendable, Equatable {
    /// Competing consumer processes.
    public var consumers: Int
    /// The bus's `durable` setting (fsync of payloads and directories).
    public var durable: Bool
    /// Envelopes published.
    public var count: Int
    /// Whether consumers are `BusWorker`s (which rewrite their heartbeat on every claim and ack);
    /// `false` runs the same loop without a heartbeat writer, as a what-if.
    public var heartbeat = true

    /// The case's key in the report, such as `non_durable_4`.
    public var key: String {
        (durable ? "durable_" : "non_durable_") + String(consumers) + (heartbeat ? "" : "_without_heartbeat")
    }
}

/// What one throughput case measured.
public struct ThroughputResult: Sendable {
    /// The case.
    public var setup: ThroughputCase
    /// From the first publish until the last envelope is in `done/`.
    public var endToEnd: Rate
    /// From the first publish until the last publish returned (the producer alone).
    public var publishing: Rate
    /// CPU seconds of the benchmark process (the producer, and the completion check) during the case.
    public var producerCPUSeconds: Double
    /// CPU seconds of the consumer processes, from start to exit.
    public var consumerCPUSeconds: Double
    /// Acks per consumer, from the journal.
    public var acksPerConsumer: [Int]
    /// The floor sequence of the same mode and count, measured just before this case.
    public var adjacentFloor = Rate(count: 0, seconds: 0)
}

/// Measures end-to-end throughput: one producer in this process, `consumers` real processes
/// (`planbus bench bus-consumer`, each a `BusWorker` unless the case says otherwise) competing on
/// one queue.
///
/// The clock starts before the first publish, once every consumer has reported a live wake
/// source, and stops when `new/` and `cur/` are both empty after the last publish, which (with no
/// nacks, as here) means every envelope is in `done/`; that count is then checked.
struct ThroughputBench: Sendable {
    let scratch: BenchDirectory
    let executable: String
    let progress: @Sendable (String) -> Void
    static let role = "bench"
    static let run = "bench-throughput"

    func measure(_ setup: ThroughputCase) async throws -> ThroughputResult {
        let dir = try scratch.phase("throughput-" + setup.key)
        var settings = BusSettings()
        settings.durable = setup.durable
        settings.wake = .inotify
        let bus = try Bus.create(at: dir + "/bus", settings: settings, roles: [Self.role]).bus
        let layout = bus.layout
        let producer = try WorkerID.current(role: "bench-producer")
        let publisher = Publisher(bus: bus, worker: producer)

        var environment = Foundation.ProcessInfo.processInfo.environment
        environment["PLANBUS_WAKE"] = nil
        environment["PLANBUS_POLL_MS"] = nil
        let cpuChildrenBefore = CPUTime.ofReapedChildren()
        var children: [ChildProcess] = []
        do {
            for i in 0..<setup.consumers {
                children.append(
                    try ChildProcess.spawn(
                        [
                            executable, "bench", "bus-consumer", "--bus", layout.root, "--role", Self.role, "--ready",
                            dir + "/ready." + String(i),
                        ] + (setup.heartbeat ? [] : ["--no-heartbeat"]), environment: environment, stdout: .null,
                        stderr: .inherit))
            }
            try await waitUntilReady(children, readyFiles: (0..<setup.consumers).map { dir + "/ready." + String($0) })
        } catch {
            await stop(children)
            throw error
        }

        let clock = ContinuousClock()
        let cpuSelfBefore = CPUTime.ofSelf()
        let start = clock.now
        let published: ContinuousClock.Instant
        let end: ContinuousClock.Instant
        do {
            for i in 0..<setup.count {
                try publisher.publish(
                    Envelope(
                        run: Self.run, kind: "bench", from: producer, to: Self.role, body: ["i": .number(Double(i))]))
            }
            published = clock.now
            let deadline = published + .seconds(120) + .milliseconds(setup.count * 10)
            while DirectoryScan.hasVisibleEntry(layout.new(Self.role))
                || DirectoryScan.hasVisibleEntry(layout.cur(Self.role))
            {
                if clock.now > deadline {
                    throw BenchError(.unexpectedState, "consumers did not drain the queue in time")
                }
                if let gone = children.first(where: { $0.exitStatus != nil }) {
                    throw BenchError(.process, "consumer \(gone.pid) ended early (\(gone.exitStatus!))")
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            end = clock.now
        } catch {
            await stop(children)
            throw error
        }
        let producerCPU = CPUTime.ofSelf() - cpuSelfBefore
        await stop(children)
        let consumerCPU = CPUTime.ofReapedChildren() - cpuChildrenBefore

        let done = DirectoryScan.countVisibleInSubfolders(layout.done(Self.role))
        let dead = DirectoryScan.countVisible(layout.dead(Self.role))
        guard done == setup.count, dead == 0 else {
            throw BenchError(
                .unexpectedState, "expected \(setup.count) envelopes in done/, found \(done) (and \(dead) in dead/)")
        }
        var acks: [String: Int] = [:]
        for event in JournalReader(layout: layout).events(run: Self.run) where event.event == .ack {
            acks[event.worker, default: 0] += 1
        }
        return ThroughputResult(
            setup: setup, endToEnd: Rate(count: setup.count, seconds: (end - start).seconds),
            publishing: Rate(count: setup.count, seconds: (published - start).seconds),
            producerCPUSeconds: producerCPU, consumerCPUSeconds: consumerCPU,
            acksPerConsumer: acks.values.sorted(by: >))
    }

    private func waitUntilReady(_ children: [ChildProcess], readyFiles: [String]) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !readyFiles.allSatisfy(FileOps.exists) {
            if let gone = children.first(where: { $0.exitStatus != nil }) {
                throw BenchError(.process, "consumer \(gone.pid) ended before it was ready (\(gone.exitStatus!))")
            }
            if ContinuousClock.now > deadline { throw BenchError(.process, "consumers were not ready after 20 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    private func stop(_ children: [ChildProcess]) async {
        for child in children { child.send(SIGTERM) }
        for child in children { _ = await child.wait() }
    }
}
