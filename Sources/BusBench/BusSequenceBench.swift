import Bus

/// The bus's own code for one envelope at a time, in one thread, with no wake-up and no other
/// process: `Publisher.publish`, then `RoleQueue.claim(_:)` of the name it returned, then
/// `RoleQueue.ack(_:outputs:)`, each timed.
///
/// Compared with ``SyscallFloor/sequence(count:durable:label:)``, which makes the same system
/// calls without the code around them, it separates the cost of the bus's logic (encoding,
/// decoding, validation, journal lines, heartbeats) from the cost of waking and of running
/// producer and consumers in separate processes.
struct BusSequenceBench: Sendable {
    let scratch: BenchDirectory
    static let role = "bench"

    /// Runs `count` envelopes through publish, claim and ack; with `heartbeat`, claims and acks
    /// update a heartbeat file as a `BusWorker` does.
    func measure(count: Int, durable: Bool, heartbeat: Bool) throws -> SequenceResult {
        let dir = try scratch.phase(
            "sequence-" + (durable ? "durable" : "plain") + (heartbeat ? "-heartbeat" : ""))
        var settings = BusSettings()
        settings.durable = durable
        let bus = try Bus.create(at: dir + "/bus", settings: settings, roles: [Self.role]).bus
        let producer = try WorkerID.current(role: "bench-producer")
        let publisher = Publisher(bus: bus, worker: producer)
        let consumer = try WorkerID.current(role: Self.role)
        let writer = heartbeat ? HeartbeatWriter(bus: bus, worker: consumer) : nil
        try writer?.beat()
        let queue = try RoleQueue(bus: bus, role: Self.role, worker: consumer, heartbeat: writer)
        let clock = ContinuousClock()
        var publishing = Duration.zero
        var claiming = Duration.zero
        var acking = Duration.zero
        for i in 0..<count {
            let t0 = clock.now
            let receipt = try publisher.publish(
                Envelope(
                    run: ThroughputBench.run, kind: "bench", from: producer, to: Self.role,
                    body: ["i": .number(Double(i))]))
            let t1 = clock.now
            guard case .claimed(let claim) = try queue.claim(FileOps.baseName(receipt.path)) else {
                throw BenchError(.unexpectedState, "could not claim \(receipt.id)")
            }
            let t2 = clock.now
            try queue.ack(claim)
            let t3 = clock.now
            publishing += t1 - t0
            claiming += t2 - t1
            acking += t3 - t2
        }
        return SequenceResult(
            count: count, heartbeat: heartbeat, publish: Rate(count: count, seconds: publishing.seconds),
            claim: Rate(count: count, seconds: claiming.seconds), ack: Rate(count: count, seconds: acking.seconds),
            durable: durable)
    }
}

/// Per-step costs of the bus's code, one envelope at a time in one thread.
public struct SequenceResult: Sendable {
    /// Envelopes.
    public var count: Int
    /// Whether claims and acks updated a heartbeat file.
    public var heartbeat: Bool
    /// `Publisher.publish`.
    public var publish: Rate
    /// `RoleQueue.claim(_:)` (rename, read, decode, duplicate marker, journal, heartbeat).
    public var claim: Rate
    /// `RoleQueue.ack(_:outputs:)` (rename, journal, heartbeat).
    public var ack: Rate
    /// Whether the bus was durable.
    public var durable: Bool
    /// The floor sequence of the same mode and count, measured just before.
    public var adjacentFloor = Rate(count: 0, seconds: 0)

    /// The three steps together.
    public var total: Rate {
        Rate(count: count, seconds: publish.seconds + claim.seconds + ack.seconds)
    }

    var json: JSONValue {
        [
            "count": .number(Double(count)), "heartbeat": .bool(heartbeat),
            "publish_us": rounded(publish.microsecondsPerOperation, 1),
            "claim_us": rounded(claim.microsecondsPerOperation, 1),
            "ack_us": rounded(ack.microsecondsPerOperation, 1),
            "total_us": rounded(total.microsecondsPerOperation, 1),
            "per_second": rounded(total.perSecond, 0),
            "floor_just_before": adjacentFloor.json,
            "ratio_to_floor": rounded(adjacentFloor.perSecond > 0 ? total.perSecond / adjacentFloor.perSecond : 0, 3),
        ]
    }
}
