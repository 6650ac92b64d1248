import Bus
import Foundation
import Synchronization

/// Measures the bus and Redis Streams on the same workload, one mode at a time.
///
/// Latency: one message at a time, the next published only once the previous one is acked. The
/// producer reads the clock, publishes, and waits for the consumer to say it has acked; the
/// consumer, in the same process, wakes, reads (and decodes) the envelope and acks it. On the bus
/// the consumer is a task blocked on a real `WakeSource` that claims (which reads and validates the
/// envelope) and acks through `RoleQueue`; with Redis it is a thread blocked in `XREADGROUP … BLOCK
/// 0` that decodes the envelope from the entry and sends `XACK`. Both post the instant of the ack to
/// the same kind of mailbox.
///
/// Throughput: Redis moves as many messages as the bus benchmark's 1-consumer case of the same
/// mode, producer pipelining `XADD`s 100 at a time, consumer reading `COUNT 100` and acking each
/// batch with one `XACK`; the clock runs from the first `XADD` to the last `XACK` answered.
struct BrokerComparisonBench: Sendable {
    let scratch: BenchDirectory
    let progress: @Sendable (String) -> Void
    static let role = "bench"
    static let batch = 100

    /// Both modes. `throughputCounts` gives the messages of the throughput case of each mode
    /// (keyed by durable), those of the bus benchmark's cases; the bus's throughput is filled in
    /// from that benchmark.
    func measure(
        latencySamples: Int, durableLatencySamples: Int, throughputCounts: [Bool: Int]
    ) async throws -> BrokerComparison {
        var comparison = BrokerComparison()
        let redis = RedisServer.executable()
        if let redis {
            comparison.redisVersion = await RedisServer.version(redis)
        } else {
            comparison.skipped =
                "redis-server is not installed (Debian: apt-get install redis-server); only the bus was measured"
        }
        for durable in [false, true] {
            let samples = durable ? durableLatencySamples : latencySamples
            let persistence: RedisServer.Persistence = durable ? .appendFsyncAlways : .memory
            progress("broker comparison, durable \(durable): bus latency, \(samples) round trips")
            let busLatency = try await busRoundTrips(samples: samples, durable: durable, in: scratch)
            var result = BrokerModeResult(
                durable: durable,
                redisPersistence: persistence.arguments.map { $0.isEmpty ? "''" : $0 }.joined(separator: " "),
                busLatency: busLatency, redisLatency: LatencySummary([]))
            if !durable, let memory = BenchDirectory.onMemoryFilesystem() {
                defer { memory.removeAll() }
                progress("  the same, the bus on \(memory.root) (tmpfs): \(samples) round trips")
                result.busOnMemoryLatency = try await busRoundTrips(samples: samples, durable: false, in: memory)
            }
            if let redis {
                let folder = try scratch.phase("redis-" + persistence.rawValue)
                let server = try await RedisServer(executable: redis, folder: folder, persistence: persistence)
                do {
                    progress(
                        "  redis \(persistence.rawValue) on 127.0.0.1:\(server.port): latency, \(samples) round trips")
                    result.redisLatency = try await redisRoundTrips(port: server.port, samples: samples)
                    if let count = throughputCounts[durable] {
                        progress("  redis \(persistence.rawValue): throughput, \(count) messages")
                        result.redisThroughput = try await redisThroughput(port: server.port, count: count)
                    }
                } catch {
                    await server.stop()
                    throw error
                }
                await server.stop()
            }
            progress(
                "  p50 bus \(format(result.busLatency.p50)) µs, redis \(format(result.redisLatency.p50)) µs")
            comparison.modes.append(result)
        }
        return comparison
    }

    /// A sample envelope of the size the bus benchmark publishes.
    private static func envelope(_ i: Int, from worker: WorkerID) -> Envelope {
        Envelope(run: "bench-broker", kind: "bench", from: worker, to: role, body: ["i": .number(Double(i))])
    }

    // MARK: the bus

    func busRoundTrips(samples: Int, durable: Bool, in directory: BenchDirectory) async throws -> LatencySummary {
        let dir = try directory.phase("broker-bus-" + (durable ? "durable" : "plain"))
        var settings = BusSettings()
        settings.durable = durable
        settings.wake = .inotify
        var bus = try Bus.create(at: dir + "/bus", settings: settings, roles: [Self.role]).bus
        bus.settings.durable = durable
        bus.settings.wake = .inotify
        let producer = try WorkerID.current(role: "bench-producer")
        let publisher = Publisher(bus: bus, worker: producer)
        let queue = try RoleQueue(bus: bus, role: Self.role, worker: try WorkerID.current(role: Self.role))
        let newDir = bus.layout.new(Self.role)
        let wake = WakeSource(directories: [newDir], root: bus.layout.root, settings: bus.settings)
        let acks = Mailbox<ContinuousClock.Instant?>()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await wake.runTimers() }
            group.addTask {
                var live = false
                for await batch in wake {
                    if !live {
                        if batch.reasons.contains("watch-added") || batch.reasons.contains("inotify-failed") {
                            live = true
                            acks.send(nil)
                        }
                        continue
                    }
                    let names = batch.rescan ? try queue.pendingNames() : batch.names[newDir] ?? []
                    for name in names {
                        if case .claimed(let claim) = try queue.claim(name) {
                            try queue.ack(claim)
                            acks.send(ContinuousClock.now)
                        }
                    }
                }
            }
            defer {
                wake.finish()
                group.cancelAll()
            }
            guard case .some(.none) = await acks.receive(timeout: .seconds(10)) else {
                throw BenchError(.unexpectedState, "the bus consumer's wake source never became live")
            }
            var latencies: [Duration] = []
            for i in 0..<samples {
                let envelope = Self.envelope(i, from: producer)
                let start = ContinuousClock.now
                _ = try publisher.publish(envelope)
                guard case .some(.some(let end)) = await acks.receive(timeout: .seconds(10)) else {
                    throw BenchError(.unexpectedState, "the bus consumer did not ack envelope \(i) within 10 s")
                }
                latencies.append(end - start)
            }
            return LatencySummary(latencies)
        }
    }

    // MARK: Redis

    private static let stream = Array("bench".utf8)

    func redisRoundTrips(port: UInt16, samples: Int) async throws -> LatencySummary {
        let producer = try RedisConnection(port: port)
        try producer.call(["DEL", "bench"])
        try producer.call(["XGROUP", "CREATE", "bench", "g", "$", "MKSTREAM"])
        let worker = try WorkerID.current(role: "bench-producer")
        let acks = Mailbox<ContinuousClock.Instant?>()
        let consumer = RedisConsumerThread(port: port, total: samples, count: 1, acks: acks, eachAck: true)
        consumer.start()
        guard case .some(.none) = await acks.receive(timeout: .seconds(10)) else {
            throw BenchError(.unexpectedState, "the redis consumer did not connect: \(consumer.failure ?? "")")
        }
        var latencies: [Duration] = []
        for i in 0..<samples {
            let envelope = Self.envelope(i, from: worker)
            // As on the bus, whose publish encodes the envelope, encoding is part of the publish.
            let start = ContinuousClock.now
            let body = try envelope.encoded()
            try producer.call([Array("XADD".utf8), Self.stream, Array("*".utf8), Array("envelope".utf8), body])
            guard case .some(.some(let end)) = await acks.receive(timeout: .seconds(10)) else {
                throw BenchError(
                    .unexpectedState,
                    "the redis consumer did not ack message \(i) within 10 s: \(consumer.failure ?? "")")
            }
            latencies.append(end - start)
        }
        return LatencySummary(latencies)
    }

    func redisThroughput(port: UInt16, count: Int) async throws -> Rate {
        let producer = try RedisConnection(port: port)
        try producer.call(["DEL", "bench"])
        try producer.call(["XGROUP", "CREATE", "bench", "g", "$", "MKSTREAM"])
        let worker = try WorkerID.current(role: "bench-producer")
        let bodies = try (0..<count).map { try Self.envelope($0, from: worker).encoded() }
        let acks = Mailbox<ContinuousClock.Instant?>()
        let consumer = RedisConsumerThread(port: port, total: count, count: Self.batch, acks: acks, eachAck: false)
        consumer.start()
        guard case .some(.none) = await acks.receive(timeout: .seconds(10)) else {
            throw BenchError(.unexpectedState, "the redis consumer did not connect: \(consumer.failure ?? "")")
        }
        let start = ContinuousClock.now
        var sent = 0
        while sent < count {
            let n = min(Self.batch, count - sent)
            var pipeline: [UInt8] = []
            for i in sent..<(sent + n) {
                pipeline += RESPEncoder.command(
                    [Array("XADD".utf8), Self.stream, Array("*".utf8), Array("envelope".utf8), bodies[i]])
            }
            try producer.write(pipeline)
            for _ in 0..<n {
                if case .error(let message) = try producer.read() {
                    throw BenchError(.unexpectedState, "redis XADD: \(message)")
                }
            }
            sent += n
        }
        guard case .some(.some(let end)) = await acks.receive(timeout: .seconds(120)) else {
            throw BenchError(
                .unexpectedState, "the redis consumer did not ack all \(count) messages: \(consumer.failure ?? "")")
        }
        return Rate(count: count, seconds: (end - start).seconds)
    }
}

/// The Redis consumer: a thread with its own connection, blocked in `XREADGROUP … BLOCK 0`, that
/// decodes each entry's envelope and acks. It posts `nil` once connected, then the instant of each
/// ack (`eachAck`) or of the last one.
final class RedisConsumerThread: @unchecked Sendable {
    private let port: UInt16
    private let total: Int
    private let count: Int
    private let acks: Mailbox<ContinuousClock.Instant?>
    private let eachAck: Bool
    private let failureText = Mutex<String?>(nil)

    /// What stopped the thread early, if anything.
    var failure: String? { failureText.withLock { $0 } }

    init(port: UInt16, total: Int, count: Int, acks: Mailbox<ContinuousClock.Instant?>, eachAck: Bool) {
        self.port = port
        self.total = total
        self.count = count
        self.acks = acks
        self.eachAck = eachAck
    }

    func start() {
        let thread = Thread { [self] in
            do {
                try consume()
            } catch {
                failureText.withLock { $0 = "\(error)" }
            }
        }
        thread.start()
    }

    private func consume() throws(BenchError) {
        let connection = try RedisConnection(port: port)
        let read = ["XREADGROUP", "GROUP", "g", "c", "COUNT", String(count), "BLOCK", "0", "STREAMS", "bench", ">"]
            .map { Array($0.utf8) }
        acks.send(nil)
        var done = 0
        while done < total {
            let reply = try connection.call(read)
            // [[stream, [[id, [field, value, …]], …]]]
            guard let streams = reply.elements, let entries = streams.first?.elements?.last?.elements else {
                throw BenchError(.unexpectedState, "unexpected XREADGROUP reply \(reply)")
            }
            var ack = [Array("XACK".utf8), Array("bench".utf8), Array("g".utf8)]
            for entry in entries {
                guard let parts = entry.elements, parts.count == 2, case .bulk(let id?) = parts[0],
                    let fields = parts[1].elements, fields.count >= 2, case .bulk(let body?) = fields[1]
                else { throw BenchError(.unexpectedState, "unexpected stream entry \(entry)") }
                do {
                    _ = try Envelope(decoding: body)
                } catch {
                    throw BenchError(.unexpectedState, "a stream entry is not an envelope: \(error)")
                }
                ack.append(id)
            }
            let acked = try connection.call(ack)
            guard case .integer(let n) = acked, n == entries.count else {
                throw BenchError(.unexpectedState, "XACK answered \(acked) for \(entries.count) entries")
            }
            done += entries.count
            if eachAck || done >= total { acks.send(ContinuousClock.now) }
        }
    }
}
