import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One worker's view of one role's queue: claim, ack, nack, dead-letter, release.
///
/// Every step is a rename of a path only its actor can name, so it is safe with any number of
/// competing workers on any number of hosts sharing the bus directory.
public final class RoleQueue: Sendable {
    /// What an attempt to claim one file came to.
    public enum ClaimResult: Sendable, Equatable {
        /// This worker holds the envelope now.
        case claimed(Claim)
        /// Someone else got there first (or the file is gone).
        case lost
        /// A dot-file: in-progress by protocol, never touched.
        case ignored
        /// The file was bad, and went to `dead/` with this reason.
        case deadLettered(String)
    }

    /// What a nack came to.
    public enum NackResult: Sendable, Equatable {
        /// Moved to `retry/`, due after `delayMs`.
        case retry(delayMs: Int)
        /// Out of attempts: dead-lettered.
        case dead
    }

    /// The bus.
    public let bus: Bus
    /// The role whose queue this is.
    public let role: String
    /// The worker taking claims.
    public let worker: WorkerID
    let journal: JournalWriter
    let publisher: Publisher
    let heartbeat: HeartbeatWriter?
    private let doneDays = Mutex<Set<String>>([])

    /// A queue reader for `role`, claiming as `worker`. Claims are mirrored in `heartbeat`'s
    /// claim list when one is given.
    public init(bus: Bus, role: String, worker: WorkerID, heartbeat: HeartbeatWriter? = nil) throws(BusError) {
        try bus.ensureQueue(role)
        self.bus = bus
        self.role = role
        self.worker = worker
        self.journal = JournalWriter(layout: bus.layout, worker: worker.description)
        self.publisher = Publisher(bus: bus, worker: worker, journal: journal)
        self.heartbeat = heartbeat
    }

    var layout: BusLayout { bus.layout }

    /// Names waiting in `new/`, oldest first; dot-files are skipped.
    public func pendingNames() throws(BusError) -> [String] {
        try FileOps.list(layout.new(role)).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Claims the next waiting envelope, dead-lettering bad files on the way; `nil` when none is left.
    public func claimNext() throws(BusError) -> Claim? {
        for name in try pendingNames() {
            if case .claimed(let claim) = try claim(name) { return claim }
        }
        return nil
    }

    /// Tries to claim the file `name` in `new/`.
    ///
    /// Bad input never throws: a file that is not a valid envelope for this role is moved to
    /// `dead/` with a reason, and the caller moves on to the next name.
    /// - Throws: ``BusError`` `io` only when the bus itself cannot be written.
    public func claim(_ name: String) throws(BusError) -> ClaimResult {
        if name.hasPrefix(".") || name.isEmpty { return .ignored }
        let source = layout.new(role) + "/" + name
        guard let (id, previous) = QueueNames.parsePending(name) else {
            return try deadLetterJunk(name: name, from: source, reason: "file name is not <id>.json or <id>.e<N>.json")
        }
        let epoch = previous + 1
        let path = layout.cur(role) + "/" + QueueNames.claim(id: id, epoch: epoch, worker: worker)
        guard try FileOps.moveIfPresent(source, to: path, uniqueDestination: true) else { return .lost }
        do throws(BusError) {
            return try inspect(claimed: path, name: name, id: id, previous: previous)
        } catch {
            // The bus refused a write after the claim (a full disk, say): hand the file back
            // under its old name so it is not stuck behind a live worker, and report the error.
            _ = try? FileOps.moveIfPresent(path, to: source)
            throw error
        }
    }

    /// Reads and checks a file just claimed as `path` (from `new/<name>`), then dead-letters it or
    /// records the claim.
    private func inspect(claimed path: String, name: String, id: String, previous: Int) throws(BusError)
        -> ClaimResult
    {
        let epoch = previous + 1
        // Both names are made durable: a crash must never bring back a copy in new/ beside the
        // claim, which could be handled twice. The duplicate marker is not fsynced (PROTOCOL 7.11).
        if bus.settings.durable {
            try FileOps.syncDirectory(layout.cur(role))
            try FileOps.syncDirectory(layout.new(role))
        }
        func dead(_ envelope: Envelope?, _ reason: String, duplicate: Bool = false) throws(BusError) -> ClaimResult {
            try deadLetterClaimed(
                path: path, id: id, epoch: epoch, envelope: envelope, reason: reason, original: name,
                duplicate: duplicate)
        }
        let limits = bus.settings.limits
        let envelope: Envelope
        switch FileOps.readRegular(path, limit: limits.maxEnvelopeBytes) {
        case .missing:
            return .lost
        case .notRegular(let kind):
            return try dead(nil, "not a regular file (\(kind))")
        case .tooLarge(let size):
            return try dead(nil, "envelope is \(size) bytes, over the \(limits.maxEnvelopeBytes)-byte limit")
        case .failed(let err):
            return try dead(nil, "unreadable: \(String(cString: strerror(err)))")
        case .bytes(let bytes):
            do throws(BusError) {
                envelope = try Envelope(decoding: bytes, limits: limits)
            } catch {
                return try dead(nil, error.message)
            }
            if let problem = bus.signatureProblem(bytes) { return try dead(envelope, problem) }
        }
        if envelope.id != id {
            return try dead(envelope, "file name says id \(id) but the envelope's id is \(envelope.id)")
        }
        if envelope.to != role {
            return try dead(envelope, "addressed to \"\(envelope.to)\" but found in the \"\(role)\" queue")
        }
        if epoch > bus.settings.maxAttempts {
            // Hand-backs (releases and deferrals) are not attempts: only read the journal when the
            // epoch alone would end the envelope.
            let releases = handBacks(of: envelope, before: epoch)
            if epoch - releases > bus.settings.maxAttempts {
                return try dead(envelope, attemptsText(previous: previous, releases: releases))
            }
        }
        // Duplicate detection: a first delivery must be the first of its id in this queue.
        let marker = layout.seen(role) + "/" + id
        if let fd = try FileOps.createExclusive(marker, mode: Bus.fileMode) {
            close(fd)
        } else if previous == 0 {
            return try dead(
                envelope, "duplicate id: an envelope with this id was already delivered to \(role)", duplicate: true)
        }
        let claim = Claim(envelope: envelope, role: role, epoch: epoch, path: path, worker: worker)
        heartbeat?.update(claim: .init(id: id, epoch: epoch), held: true)
        var event = JournalEvent(.claim, envelope: envelope, role: role, epoch: epoch, worker: worker.description)
        if previous > 0 { event.reason = "redelivery after \(previous) claim\(previous == 1 ? "" : "s")" }
        journal.record(event, run: envelope.run)
        return .claimed(claim)
    }

    /// Commits a claim: stages `outputs`, moves the claim to `done/`, then publishes the outputs.
    ///
    /// The rename into `done/` is the commit. Nothing after it throws: if the process dies, or the
    /// bus refuses a write, after the commit and before the outputs are published, the janitor
    /// publishes them. Directory fsyncs after a move are best effort for the same reason: the move
    /// has happened and cannot be retried.
    /// - Throws: ``BusError`` `fenced` when the claim was taken over (nothing is published),
    ///   `invalidEnvelope` when an output is invalid (nothing is committed).
    public func ack(_ claim: Claim, outputs: [Envelope] = []) throws(BusError) {
        let staged = claim.workDirectory(in: layout)
        if !outputs.isEmpty {
            try stage(outputs, in: staged)
        }
        let day = QueueNames.day(of: claim.envelope.id)
        let doneDir = layout.done(role, day: day)
        if !doneDays.withLock({ $0.contains(day) }) {
            try FileOps.makeDirectories(doneDir, mode: Bus.directoryMode, syncParents: bus.settings.durable)
            doneDays.withLock { _ = $0.insert(day) }
        }
        var target = doneDir + "/" + QueueNames.settled(id: claim.envelope.id, epoch: claim.epoch)
        var note: String?
        if FileOps.exists(target) && FileOps.exists(claim.path) {
            // An earlier envelope with this id was acked at this epoch (a reused id whose marker
            // was pruned): commit this one beside it rather than taking the collision for fencing.
            target = String(target.dropLast(5)) + ".dup-" + FileOps.randomHex(6) + ".json"
            note = "committed as \(FileOps.baseName(target)): an earlier envelope with this id holds the usual name"
        }
        var committed = try FileOps.moveIfPresent(claim.path, to: target, uniqueDestination: true)
        if !committed && FileOps.exists(claim.path) && !FileOps.exists(doneDir) {
            // Still held, but the day folder was removed since it was made (an archive job):
            // make it again and retry; "fenced" is only for a claim that is gone.
            try FileOps.makeDirectories(doneDir, mode: Bus.directoryMode, syncParents: bus.settings.durable)
            committed = try FileOps.moveIfPresent(claim.path, to: target, uniqueDestination: true)
        }
        guard committed else {
            FileOps.removeTree(staged)
            throw fenced(claim, step: "ack")
        }
        if bus.settings.durable {
            // The commit is durable once done/<day>/ is. Before results are published, so is the
            // claim's removal from cur/: a crash must never bring back an envelope whose results
            // are out. Without results, a crash that brings it back only delivers it again
            // (PROTOCOL 7.11).
            try? FileOps.syncDirectory(doneDir)
            if !outputs.isEmpty { try? FileOps.syncDirectory(layout.cur(role)) }
        }
        journal.record(
            JournalEvent(
                event: .ack, id: claim.envelope.id, role: role, epoch: claim.epoch, worker: worker.description,
                reason: note),
            run: claim.envelope.run)
        heartbeat?.update(claim: .init(id: claim.envelope.id, epoch: claim.epoch), held: false)
        if !outputs.isEmpty {
            // Committed: a failure from here on is finished by the janitor, never by a retried ack.
            _ = try? publishStaged(staged, known: outputs)
        }
    }

    /// Hands a claim back for a later retry, or dead-letters it when it has failed `max_attempts`
    /// times.
    ///
    /// Failed deliveries are the claims so far minus those handed back unprocessed (the `release`
    /// events of this envelope in this role's queue in the run's journal: stopping workers'
    /// releases and deferrals, see ``deferClaim(_:until:reason:)``).
    ///
    /// The retry delay is `retry_base_ms · 2^(epoch-1)`, capped at `retry_cap_ms`, plus up to 25 %
    /// jitter; it is measured by each janitor from when it first sees the file, so no wall clocks
    /// are compared.
    /// - Throws: ``BusError`` `fenced` when the claim was taken over.
    @discardableResult
    public func nack(_ claim: Claim, reason: String) throws(BusError) -> NackResult {
        let settings = bus.settings
        if claim.epoch >= settings.maxAttempts {
            // Deliveries handed back unprocessed (a stopping worker's release, a deferral) are not
            // failures; the journal is read only here, where the epoch alone would end the envelope.
            let releases = handBacks(of: claim.envelope, before: claim.epoch)
            let failures = claim.epoch - releases
            if failures >= settings.maxAttempts {
                let handed = releases == 0 ? "" : " (and \(releases) handed back)"
                try deadLetter(
                    claim,
                    reason:
                        "failed \(failures) deliveries\(handed) (max_attempts \(settings.maxAttempts)); last error: \(reason)"
                )
                return .dead
            }
        }
        let shift = min(claim.epoch - 1, 30)
        var delay = min(settings.retryBaseMs << shift, settings.retryCapMs)
        if delay > 0 { delay = min(delay + Int.random(in: 0...(delay / 4)), settings.retryCapMs) }
        try handBack(
            claim, into: layout.retry(role),
            name: QueueNames.retry(id: claim.envelope.id, epoch: claim.epoch, delayMs: delay), event: .nack,
            reason: reason, notBefore: Timestamp.now().milliseconds + Int64(delay))
        return .retry(delayMs: delay)
    }

    /// Moves a held claim into `folder` as `name`, then journals `event`, lets go of the claim in
    /// the heartbeat and removes its work folder: the common end of a nack, a release and a
    /// deferral.
    /// - Throws: ``BusError`` `fenced` when the claim was taken over.
    func handBack(
        _ claim: Claim, into folder: String, name: String, event: JournalEvent.Kind, reason: String,
        notBefore: Int64? = nil
    ) throws(BusError) {
        guard try moveHeld(claim.path, to: folder + "/" + name) else {
            throw fenced(claim, step: event == .nack ? "nack" : notBefore == nil ? "release" : "defer")
        }
        if bus.settings.durable {
            try? FileOps.syncDirectory(folder)
            try? FileOps.syncDirectory(layout.cur(role))
        }
        journal.record(
            JournalEvent(
                event: event, id: claim.envelope.id, role: role, epoch: claim.epoch, worker: worker.description,
                reason: reason, notBefore: notBefore),
            run: claim.envelope.run)
        heartbeat?.update(claim: .init(id: claim.envelope.id, epoch: claim.epoch), held: false)
        FileOps.removeTree(claim.workDirectory(in: layout))
    }

    /// Moves a claim to `dead/` with a reason file.
    /// - Throws: ``BusError`` `fenced` when the claim was taken over.
    public func deadLetter(_ claim: Claim, reason: String) throws(BusError) {
        let result = try deadLetterClaimed(
            path: claim.path, id: claim.envelope.id, epoch: claim.epoch, envelope: claim.envelope, reason: reason)
        if result == .lost { throw fenced(claim, step: "dead-letter") }
        FileOps.removeTree(claim.workDirectory(in: layout))
    }

    /// Hands a claim back unprocessed (a graceful stop), for another worker to take.
    /// - Throws: ``BusError`` `fenced` when the claim was taken over.
    public func release(_ claim: Claim, reason: String = "worker stopping") throws(BusError) {
        try handBack(
            claim, into: layout.new(role), name: QueueNames.pending(id: claim.envelope.id, epoch: claim.epoch),
            event: .release, reason: reason)
    }

    /// True while this worker still holds `claim` (its claim file exists).
    public func stillHolds(_ claim: Claim) -> Bool {
        FileOps.exists(claim.path)
    }

    func fenced(_ claim: Claim, step: String) -> BusError {
        journal.record(
            JournalEvent(
                event: .fenced, id: claim.envelope.id, role: role, epoch: claim.epoch, worker: worker.description,
                reason: "\(step) refused: the claim at epoch \(claim.epoch) is no longer held"),
            run: claim.envelope.run)
        heartbeat?.update(claim: .init(id: claim.envelope.id, epoch: claim.epoch), held: false)
        return BusError(
            .fenced,
            "\(step) of \(claim.envelope.id) at epoch \(claim.epoch) refused: the claim was taken over or settled")
    }

    private func stage(_ outputs: [Envelope], in directory: String) throws(BusError) {
        let out = directory + "/out"
        var encoded: [(String, [UInt8])] = []
        for envelope in outputs {
            encoded.append(
                (envelope.id + "." + envelope.to + ".json", try bus.envelopeBytes(envelope)))
        }
        try FileOps.makeDirectories(out, mode: Bus.directoryMode, syncParents: bus.settings.durable)
        for (name, bytes) in encoded {
            // Each file is fsynced before its rename; the folder once, after the last.
            try FileOps.writeAtomically(
                bytes, to: out + "/" + name, stagingDirectory: layout.tmp, mode: Bus.fileMode,
                durable: bus.settings.durable, syncingDirectory: false)
        }
        if bus.settings.durable { try FileOps.syncDirectory(out) }
    }

    /// Publishes the results staged in a committed claim's work folder, then removes it.
    @discardableResult
    func publishStaged(_ directory: String, known: [Envelope]) throws(BusError) -> Int {
        var published = 0
        var queues: [String] = []
        let out = directory + "/out"
        let names = (try? FileOps.list(out)) ?? []
        for name in names.sorted() where !name.hasPrefix(".") && name.hasSuffix(".json") {
            let parts = name.dropLast(5).split(separator: ".")
            guard parts.count == 2 else { continue }
            let id = String(parts[0])
            let to = String(parts[1])
            guard Limits.isValidEnvelopeID(id), (try? Limits.checkRole(to, field: "to")) != nil else { continue }
            var envelope = known.first { $0.id == id && $0.to == to }
            if envelope == nil,
                case .bytes(let b) = FileOps.readRegular(out + "/" + name, limit: bus.settings.maxEnvelopeBytes)
            {
                envelope = try? Envelope(decoding: b, limits: bus.settings.limits)
            }
            try publisher.ensureQueue(to)
            let target = layout.new(to) + "/" + QueueNames.pending(id: id, epoch: 0)
            guard try FileOps.moveIfPresent(out + "/" + name, to: target) else { continue }
            published += 1
            if !queues.contains(to) { queues.append(to) }
            if let envelope {
                journal.record(
                    JournalEvent(.publish, envelope: envelope, role: to, worker: worker.description), run: envelope.run)
            }
        }
        // Each queue's new/ once, after its last file: the staged copies stay until then.
        if bus.settings.durable {
            for to in queues { try FileOps.syncDirectory(layout.new(to)) }
        }
        FileOps.removeTree(directory)
        return published
    }

    /// Dead-letters a claimed file; `.lost` when the claim had already gone.
    private func deadLetterClaimed(
        path: String, id: String, epoch: Int, envelope: Envelope?, reason: String, original: String? = nil,
        duplicate: Bool = false
    ) throws(BusError) -> ClaimResult {
        var details: [String: JSONValue] = ["id": .string(id), "epoch": .number(Double(epoch))]
        if let envelope { details["run"] = .string(envelope.run) }
        let moved = try moveToDead(
            path, from: layout.cur(role), deadName: uniqueDeadName(QueueNames.settled(id: id, epoch: epoch)),
            original: original ?? FileOps.baseName(path), reason: reason, details: details)
        guard moved else { return .lost }
        if let envelope {
            var event = JournalEvent(.dead, envelope: envelope, role: role, epoch: epoch, worker: worker.description)
            event.reason = reason
            event.duplicate = duplicate
            journal.record(event, run: envelope.run)
            if !duplicate { heartbeat?.update(claim: .init(id: id, epoch: epoch), held: false) }
        }
        return .deadLettered(reason)
    }

    /// Dead-letters a file whose name is not an envelope name, straight from `new/`.
    private func deadLetterJunk(name: String, from source: String, reason: String) throws(BusError) -> ClaimResult {
        let safe = String(
            name.unicodeScalars.prefix(80).map { s -> Character in
                s.isASCII && (Character(s).isLetter || Character(s).isNumber || s == "-" || s == "_")
                    ? Character(s) : "_"
            })
        let deadName = "junk-" + String(Timestamp.now().milliseconds) + "-" + FileOps.randomHex(6) + "-" + safe
        let moved = try moveToDead(
            source, from: layout.new(role), deadName: deadName, original: name, reason: reason, details: [:])
        return moved ? .deadLettered(reason) : .lost
    }

    /// Moves `path` to `dead/<deadName>`, then puts its reason record beside it as
    /// `<deadName>.reason.json`. The reason is staged first and placed only by the actor whose move
    /// won, so a racing loser never touches the winner's record. A crash between the two renames
    /// leaves a dead letter without a reason (its staged record is a stale `tmp/` file).
    private func moveToDead(
        _ path: String, from sourceDirectory: String, deadName: String, original: String, reason: String,
        details: [String: JSONValue]
    ) throws(BusError) -> Bool {
        var record = details
        record["file"] = .string(deadName)
        record["original_name"] = .string(original)
        record["role"] = .string(role)
        record["reason"] = .string(reason)
        record["worker"] = .string(worker.description)
        record["time"] = .string(Timestamp.now().description)
        let durable = bus.settings.durable
        let staged = try FileOps.stage(
            Array((JSONValue.object(record).prettyPrinted() + "\n").utf8), in: layout.tmp, mode: Bus.fileMode,
            durable: durable)
        let target = layout.dead(role) + "/" + deadName
        let moved: Bool
        do throws(BusError) {
            moved = try moveHeld(path, to: target)
        } catch {
            FileOps.removeFile(staged)
            throw error
        }
        guard moved else {
            FileOps.removeFile(staged)
            return false
        }
        guard FileOps.renameReplacing(staged, to: target + ".reason.json") else {
            let err = errno
            FileOps.removeFile(staged)
            throw BusError(.io, "cannot place the reason for \(target)", errno: err)
        }
        if durable {
            try? FileOps.syncDirectory(layout.dead(role))
            try? FileOps.syncDirectory(sourceDirectory)
        }
        return true
    }

    /// Moves a file this worker holds. `false` only when the file is gone (someone else moved it);
    /// a missing destination folder (removed by hand) is made again, never taken for fencing.
    func moveHeld(_ path: String, to target: String) throws(BusError) -> Bool {
        if try FileOps.moveIfPresent(path, to: target) { return true }
        guard FileOps.exists(path) else { return false }
        let folder = FileOps.parentPath(target)
        try FileOps.makeDirectories(folder, mode: Bus.directoryMode, syncParents: bus.settings.durable)
        if try FileOps.moveIfPresent(path, to: target) { return true }
        if FileOps.exists(path) { throw BusError(.io, "cannot move \(path) to \(target)") }
        return false
    }

    private func uniqueDeadName(_ base: String) -> String {
        if !FileOps.exists(layout.dead(role) + "/" + base) { return base }
        return String(base.dropLast(5)) + ".dup-" + FileOps.randomHex(6) + ".json"
    }
}
