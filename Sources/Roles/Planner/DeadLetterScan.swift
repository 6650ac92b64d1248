import Bus
import Synchronization

/// Finds the envelopes of the planner's active runs in every queue's `dead/` folder and sends the
/// planner one ``DeadLetterNotice`` of each.
///
/// A run is active while its `runs/<run>/status.json` exists and does not say `finished`. Left
/// alone: a duplicate copy of an id (its reason starts with `duplicate id`; the first copy went
/// on), a file that is not an envelope or whose signature does not hold (nothing in it can be
/// trusted to name a run), a notice itself (so a notice the planner could not take is not noticed
/// again and again), and a run's starting `goal` (the run has no state to end; `planbus submit
/// --wait` and `planbus status` say it was dead-lettered). A dead letter whose reason record is
/// not there yet (it is placed right after the move) is looked at again for one lease, then
/// noticed without one.
///
/// The notice's id derives from the dead envelope's (``DeadLetterNotice/noticeID(of:role:)``), so
/// scans by several planners, or by a restarted one, deliver it once: a notice already in the
/// planner's `new/` or `seen/` is not sent again, and a copy sent all the same in a race is a
/// duplicate the planner's queue dead-letters. Each process remembers the letters it has settled,
/// so a pass reads only new files.
public final class DeadLetterScan: Sendable {
    let bus: Bus
    let publisher: Publisher
    private let memory = Mutex<Memory>(Memory())

    /// What the scan remembers between passes.
    struct Memory {
        /// Dead letters (`role/file`) looked at for good: noticed, or left alone.
        var settled: Set<String> = []
        /// When a letter without its reason record was first seen.
        var firstSeen: [String: ContinuousClock.Instant] = [:]
        /// Notices of letters whose run has no status yet, by letter.
        var waiting: [String: (run: String, notice: DeadLetterNotice)] = [:]
    }

    /// A scan publishing its notices as `worker` (the planner process).
    public init(bus: Bus, worker: WorkerID) {
        self.bus = bus
        self.publisher = Publisher(bus: bus, worker: worker)
    }

    /// One look at every queue's `dead/` folder.
    /// - Returns: the ids of the notices sent.
    /// - Throws: ``BusError`` when the queues cannot be listed or a notice cannot be published (the
    ///   letters not noticed yet are looked at again by the next pass).
    @discardableResult
    public func pass() throws(BusError) -> [String] {
        var sent: [String] = []
        var active: [String: Bool] = [:]
        for role in try bus.roles() {
            let names = (try? FileOps.list(bus.layout.dead(role))) ?? []
            let settled = memory.withLock { $0.settled }
            for file in names.sorted() where !file.hasSuffix(".reason.json") && !file.hasPrefix(".") {
                let key = role + "/" + file
                if settled.contains(key) { continue }
                guard let (run, notice) = candidate(role: role, file: file, key: key) else { continue }
                let isActive: Bool
                if let known = active[run] {
                    isActive = known
                } else {
                    isActive = status(of: run)
                    active[run] = isActive
                }
                guard isActive else { continue }
                if let id = try notify(notice, run: run) { sent.append(id) }
                memory.withLock {
                    $0.settled.insert(key)
                    $0.waiting[key] = nil
                    $0.firstSeen[key] = nil
                }
            }
        }
        return sent
    }

    /// The run and notice of the dead letter `file` of `role` (not settled yet); `nil` when it is
    /// left alone, or waits for its reason record.
    private func candidate(role: String, file: String, key: String) -> (String, DeadLetterNotice)? {
        if let waiting = memory.withLock({ $0.waiting[key] }) { return (waiting.run, waiting.notice) }
        var reason = DeadLetters.reason(layout: bus.layout, role: role, file: file)?["reason"]?.stringValue
        if reason == nil {
            let now = ContinuousClock.now
            let first = memory.withLock { memory in
                if let seen = memory.firstSeen[key] { return seen }
                memory.firstSeen[key] = now
                return now
            }
            guard now - first >= .milliseconds(bus.settings.leaseMs) else { return nil }
            reason = "no reason recorded"
        }
        guard let found = Self.letter(role: role, file: file, reason: reason!, bus: bus) else {
            memory.withLock {
                $0.settled.insert(key)
                $0.firstSeen[key] = nil
            }
            return nil
        }
        memory.withLock { $0.waiting[key] = found }
        return found
    }

    /// The run and notice of the dead letter `file` of `role`, or `nil` for one the planner leaves
    /// alone.
    static func letter(role: String, file: String, reason: String, bus: Bus) -> (
        run: String, notice: DeadLetterNotice
    )? {
        if reason.hasPrefix("duplicate id") { return nil }
        let limits = bus.settings.limits
        guard
            case .bytes(let bytes) = FileOps.readRegular(
                bus.layout.dead(role) + "/" + file, limit: limits.maxEnvelopeBytes),
            let envelope = try? Envelope(decoding: bytes, limits: limits), bus.signatureProblem(bytes) == nil
        else { return nil }
        if envelope.kind == DeadLetterNotice.kind { return nil }
        if envelope.kind == RunMessages.goal, envelope.body["from_goal"] == nil { return nil }
        return (envelope.run, DeadLetterNotice(dead: envelope, role: role, file: file, reason: reason))
    }

    /// True while `run` has a status that does not say it finished; a run with no status yet is
    /// looked at again by the next pass, one that finished never again.
    private func status(of run: String) -> Bool {
        guard (try? Limits.checkName(run, field: "run")) != nil,
            case .bytes(let bytes) = FileOps.readRegular(bus.layout.run(run) + "/status.json", limit: 16 << 20),
            let status = try? JSONValue.parse(bytes)
        else { return false }
        if status["finished"] == .bool(true) {
            memory.withLock { memory in
                for (key, waiting) in memory.waiting where waiting.run == run {
                    memory.settled.insert(key)
                    memory.waiting[key] = nil
                }
            }
            return false
        }
        return true
    }

    /// Publishes `notice` unless the planner's queue already has it.
    /// - Returns: the notice's id when it was published.
    private func notify(_ notice: DeadLetterNotice, run: String) throws(BusError) -> String? {
        let id = DeadLetterNotice.noticeID(of: notice.id, role: notice.role)
        let layout = bus.layout
        if FileOps.exists(layout.seen("planner") + "/" + id)
            || FileOps.exists(layout.new("planner") + "/" + QueueNames.pending(id: id, epoch: 0))
        {
            return nil
        }
        try publisher.publish(notice.envelope(run: run, from: publisher.worker))
        return id
    }
}
