import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps a bus tidy and moving; any number of janitors may run at once, on any hosts.
///
/// One ``pass(roles:)``:
/// - releases claims whose holders are dead (see ``LivenessTracker``) back to `new/` as
///   `<id>.e<N>.json`, so the next claim is a take-over at epoch N+1; at `max_attempts` they go
///   to `dead/` instead;
/// - moves due retries back to `new/`;
/// - publishes results staged by claims that committed (acked) but died before publishing, and
///   drops results staged by claims that were fenced;
/// - removes stale staging files in `tmp/`;
/// - prunes duplicate-detection markers past their retention;
/// - removes heartbeat files of workers that have been dead for ``heartbeatRetention``.
///
/// Ages are measured on this janitor's monotonic clock from when it first saw a file.
public final class Janitor: Sendable {
    /// What one pass did.
    public struct Report: Sendable, Equatable {
        public var expired = 0
        public var requeued = 0
        public var republished = 0
        public var droppedWork = 0
        public var staleTmp = 0
        public var prunedMarkers = 0
        public var deadLettered = 0
        public var removedHeartbeats = 0
        public var notes: [String] = []

        public init() {}

        /// True when the pass changed nothing.
        public var isEmpty: Bool {
            expired + requeued + republished + droppedWork + staleTmp + prunedMarkers + deadLettered
                + removedHeartbeats == 0
        }

        public var json: JSONValue {
            .object([
                "expired": .number(Double(expired)), "requeued": .number(Double(requeued)),
                "republished": .number(Double(republished)), "dropped_work": .number(Double(droppedWork)),
                "stale_tmp": .number(Double(staleTmp)), "pruned_markers": .number(Double(prunedMarkers)),
                "dead_lettered": .number(Double(deadLettered)),
                "removed_heartbeats": .number(Double(removedHeartbeats)), "notes": .array(notes.map(JSONValue.string)),
            ])
        }
    }

    /// How long a worker must have been judged dead before its heartbeat file is removed (so that
    /// anyone reading `hb/` can see it as dead in the meantime).
    public static let heartbeatRetention: Duration = .seconds(600)

    let bus: Bus
    let worker: WorkerID
    /// The observer clock used to judge claim holders.
    public let liveness: LivenessTracker
    private let journal: JournalWriter
    private let firstSeen = Mutex<[String: ContinuousClock.Instant]>([:])
    private let lastPrune = Mutex<ContinuousClock.Instant?>(nil)
    private let lastHeartbeatPrune = Mutex<ContinuousClock.Instant?>(nil)
    private let queues = Mutex<[String: RoleQueue]>([:])

    /// A janitor acting as `worker`.
    public init(bus: Bus, worker: WorkerID, liveness: LivenessTracker? = nil) {
        self.bus = bus
        self.worker = worker
        self.liveness = liveness ?? LivenessTracker(layout: bus.layout, leaseMs: bus.settings.leaseMs)
        self.journal = JournalWriter(layout: bus.layout, worker: worker.description)
    }

    var layout: BusLayout { bus.layout }

    /// One pass over `roles` (every role on the bus when `nil`).
    public func pass(roles: [String]? = nil) -> Report {
        var report = Report()
        let roles = roles ?? ((try? bus.roles()) ?? [])
        let pruneHeartbeatsNow = Self.due(lastHeartbeatPrune, every: .seconds(60))
        for role in roles {
            let claims = expireClaims(role, &report)
            requeueDueRetries(role, &report)
            settleWork(role, claims: claims, &report)
            if pruneHeartbeatsNow { pruneHeartbeats(role, &report) }
        }
        removeStaleTmp(&report)
        pruneMarkers(roles, &report)
        return report
    }

    /// True, and the clock reset, when `every` has passed since `last` (or it never ran).
    private static func due(_ last: borrowing Mutex<ContinuousClock.Instant?>, every: Duration) -> Bool {
        let now = ContinuousClock.now
        return last.withLock { last -> Bool in
            if let l = last, now - l < every { return false }
            last = now
            return true
        }
    }

    /// One queue reader per role for the janitor's own moves (journal and publisher reused).
    private func queue(_ role: String) -> RoleQueue? {
        if let q = queues.withLock({ $0[role] }) { return q }
        guard let q = try? RoleQueue(bus: bus, role: role, worker: worker) else { return nil }
        queues.withLock { $0[role] = q }
        return q
    }

    private func age(of key: String) -> Duration {
        let now = ContinuousClock.now
        return firstSeen.withLock { table in
            if let seen = table[key] { return now - seen }
            table[key] = now
            return .zero
        }
    }

    private func forgetSeen(prefix: String, keeping live: Set<String>) {
        firstSeen.withLock { table in
            for key in table.keys where key.hasPrefix(prefix) && !live.contains(key) { table.removeValue(forKey: key) }
        }
    }

    /// Releases the claims of dead holders; returns the names in `cur/` as listed.
    private func expireClaims(_ role: String, _ report: inout Report) -> [String] {
        guard let names = try? FileOps.list(layout.cur(role)) else { return [] }
        for name in names where !name.hasPrefix(".") {
            let path = layout.cur(role) + "/" + name
            guard let (id, epoch, holder) = QueueNames.parseClaim(name) else {
                report.notes.append("unparseable claim name \(name) in \(role)/cur")
                continue
            }
            guard case .dead(let why) = liveness.verdict(for: holder) else { continue }
            var envelope: Envelope?
            if case .bytes(let b) = FileOps.readRegular(path, limit: bus.settings.maxEnvelopeBytes) {
                envelope = try? Envelope(decoding: b, limits: bus.settings.limits)
            }
            if epoch >= bus.settings.maxAttempts {
                // As for a nack, hand-backs are not failures (docs/PROTOCOL.md, 7.9).
                if let queue = queue(role), let envelope,
                    epoch - queue.handBacks(of: envelope, before: epoch) >= bus.settings.maxAttempts
                {
                    let claim = Claim(envelope: envelope, role: role, epoch: epoch, path: path, worker: holder)
                    if (try? queue.deadLetter(
                        claim,
                        reason:
                            "holder \(holder) died (\(why)) at epoch \(epoch), max_attempts \(bus.settings.maxAttempts)"
                    ))
                        != nil
                    {
                        report.deadLettered += 1
                    }
                    continue
                }
            }
            let target = layout.new(role) + "/" + QueueNames.pending(id: id, epoch: epoch)
            guard (try? FileOps.moveIfPresent(path, to: target)) == true else { continue }
            if bus.settings.durable {
                try? FileOps.syncDirectory(layout.new(role))
                try? FileOps.syncDirectory(layout.cur(role))
            }
            report.expired += 1
            if let envelope {
                journal.record(
                    JournalEvent(
                        event: .expire, id: id, role: role, epoch: epoch, worker: worker.description,
                        reason: "holder \(holder) is dead: \(why)", previous: holder.description),
                    run: envelope.run)
            }
        }
        return names
    }

    private func requeueDueRetries(_ role: String, _ report: inout Report) {
        guard let names = try? FileOps.list(layout.retry(role)) else { return }
        var live: Set<String> = []
        let prefix = "retry:" + role + "/"
        for name in names where !name.hasPrefix(".") {
            guard let (id, epoch, delayMs) = QueueNames.parseRetry(name) else { continue }
            let key = prefix + name
            live.insert(key)
            guard age(of: key) >= .milliseconds(delayMs) else { continue }
            let source = layout.retry(role) + "/" + name
            let target = layout.new(role) + "/" + QueueNames.pending(id: id, epoch: epoch)
            var run: String?
            if case .bytes(let b) = FileOps.readRegular(source, limit: bus.settings.maxEnvelopeBytes) {
                run = (try? Envelope(decoding: b, limits: bus.settings.limits))?.run
            }
            guard (try? FileOps.moveIfPresent(source, to: target)) == true else { continue }
            if bus.settings.durable {
                try? FileOps.syncDirectory(layout.new(role))
                try? FileOps.syncDirectory(layout.retry(role))
            }
            report.requeued += 1
            if let run {
                journal.record(
                    JournalEvent(event: .requeue, id: id, role: role, epoch: epoch, worker: worker.description),
                    run: run)
            }
        }
        forgetSeen(prefix: prefix, keeping: live)
    }

    private func settleWork(_ role: String, claims: [String], _ report: inout Report) {
        let base = layout.work + "/" + role
        guard let names = try? FileOps.list(base) else { return }
        var live: Set<String> = []
        let prefix = "work:" + role + "/"
        for name in names where !name.hasPrefix(".") {
            guard let (id, epoch) = Self.parseWorkName(name) else {
                report.notes.append("unparseable work folder \(role)/\(name)")
                continue
            }
            let dir = base + "/" + name
            let done = layout.done(role, day: QueueNames.day(of: id)) + "/" + QueueNames.settled(id: id, epoch: epoch)
            if FileOps.exists(done) {
                // The holder may have died between its commit and the commit's fsyncs: make the
                // commit durable before its results can be seen (PROTOCOL 7.11).
                if bus.settings.durable {
                    try? FileOps.syncDirectory(FileOps.parentPath(done))
                    try? FileOps.syncDirectory(layout.cur(role))
                }
                if let queue = queue(role), let published = try? queue.publishStaged(dir, known: []) {
                    report.republished += published
                }
                continue
            }
            // Listed at the start of this pass: a claim made since is younger than any work it
            // could own, and the lease below covers a commit in flight.
            let held = claims.contains { $0.hasPrefix(id + ".e" + String(epoch) + "@") }
            if held { continue }
            // Not committed and no longer held: fenced or settled otherwise. Give the holder a lease
            // to finish a commit that is in flight before dropping its results.
            let key = prefix + name
            live.insert(key)
            if age(of: key) >= .milliseconds(bus.settings.leaseMs) {
                FileOps.removeTree(dir)
                report.droppedWork += 1
            }
        }
        forgetSeen(prefix: prefix, keeping: live)
    }

    /// Parses a work folder name, `<id>.e<N>`.
    static func parseWorkName(_ name: String) -> (id: String, epoch: Int)? {
        guard let (id, epoch) = QueueNames.parsePending(name + ".json"), epoch >= 1 else { return nil }
        return (id, epoch)
    }

    private func removeStaleTmp(_ report: inout Report) {
        guard let names = try? FileOps.list(layout.tmp) else { return }
        var live: Set<String> = []
        for name in names {
            let path = layout.tmp + "/" + name
            let key = "tmp:" + name
            live.insert(key)
            var stale = false
            if let (host, pid) = QueueNames.parseStaging(name), host == Host.name {
                stale = !ProcessInfo.exists(pid)
            }
            if !stale { stale = age(of: key) >= .milliseconds(bus.settings.tmpMaxAgeMs) }
            if stale {
                FileOps.removeTree(path)
                report.staleTmp += 1
            }
        }
        forgetSeen(prefix: "tmp:", keeping: live)
    }

    private func pruneHeartbeats(_ role: String, _ report: inout Report) {
        guard let names = try? FileOps.list(layout.heartbeats(role)) else { return }
        var live: Set<String> = []
        let prefix = "hb:" + role + "/"
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            guard let worker = try? WorkerID(parsing: String(name.dropLast(5))) else { continue }
            guard case .dead = liveness.verdict(for: worker) else { continue }
            let key = prefix + name
            live.insert(key)
            if age(of: key) >= Self.heartbeatRetention {
                FileOps.removeFile(layout.heartbeats(role) + "/" + name)
                liveness.forget(worker)
                report.removedHeartbeats += 1
            }
        }
        forgetSeen(prefix: prefix, keeping: live)
    }

    private func pruneMarkers(_ roles: [String], _ report: inout Report) {
        guard Self.due(lastPrune, every: .seconds(3600)) else { return }
        let cutoff = Timestamp.now().milliseconds - Int64(bus.settings.seenRetentionDays) * 86_400_000
        for role in roles {
            guard let names = try? FileOps.list(layout.seen(role)) else { continue }
            for name in names {
                if let ts = EnvelopeID.timestamp(of: name), ts.milliseconds < cutoff {
                    FileOps.removeFile(layout.seen(role) + "/" + name)
                    report.prunedMarkers += 1
                }
            }
        }
    }
}
