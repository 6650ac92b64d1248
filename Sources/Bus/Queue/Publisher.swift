import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Publishes envelopes: the only way anything enters a queue.
///
/// A publish writes a dot-file in `tmp/` (`O_EXCL`), fsyncs it (durable mode), closes it checking
/// for errors, renames it to `q/<to>/new/<id>.json`, then fsyncs `new/` (durable mode). The rename is
/// the moment of delivery, so no reader ever sees a partial envelope.
public final class Publisher: Sendable {
    /// What publishing did.
    public struct Receipt: Sendable, Equatable {
        /// The envelope's path in the target queue.
        public var path: String
        /// The envelope's id.
        public var id: String
    }

    let bus: Bus
    /// The identity this publisher writes journal lines as.
    public let worker: WorkerID
    let journal: JournalWriter
    private let knownQueues = Mutex<Set<String>>([])

    /// A publisher writing as `worker`, journalling through `journal` (one per worker is made
    /// when `nil`).
    public init(bus: Bus, worker: WorkerID, journal: JournalWriter? = nil) {
        self.bus = bus
        self.worker = worker
        self.journal = journal ?? JournalWriter(layout: bus.layout, worker: worker.description)
    }

    /// Publishes `envelope` into the queue of `envelope.to`.
    /// - Parameter durable: overrides the bus's `durable` setting for this publish.
    /// - Throws: ``BusError`` `invalidEnvelope` when the envelope breaks a limit (nothing is
    ///   written), `io` when the disk refuses (nothing becomes visible).
    @discardableResult
    public func publish(_ envelope: Envelope, durable: Bool? = nil) throws(BusError) -> Receipt {
        let bytes = try bus.envelopeBytes(envelope)
        let durable = durable ?? bus.settings.durable
        try ensureQueue(envelope.to)
        let target = bus.layout.new(envelope.to) + "/" + QueueNames.pending(id: envelope.id, epoch: 0)
        // An id already delivered to this queue will be dead-lettered as a duplicate: journal this
        // copy as such, so the first envelope's story is not mixed with it.
        let reused = FileOps.exists(bus.layout.seen(envelope.to) + "/" + envelope.id)
        try write(bytes, to: target, durable: durable)
        var event = JournalEvent(.publish, envelope: envelope, role: envelope.to, worker: worker.description)
        event.duplicate = reused
        journal.record(event, run: envelope.run)
        return Receipt(path: target, id: envelope.id)
    }

    /// Writes `bytes` to `target` through a staging file in `tmp/`: the rename is the delivery.
    func write(_ bytes: [UInt8], to target: String, durable: Bool) throws(BusError) {
        let tmp = try FileOps.stage(bytes, in: bus.layout.tmp, mode: Bus.fileMode, durable: durable, purpose: "pub")
        guard FileOps.renameReplacing(tmp, to: target) else {
            let err = errno
            FileOps.removeFile(tmp)
            throw BusError(.io, "cannot publish to \(target)", errno: err)
        }
        if durable { try FileOps.syncDirectory(FileOps.parentPath(target)) }
    }

    func ensureQueue(_ role: String) throws(BusError) {
        if knownQueues.withLock({ $0.contains(role) }) { return }
        try bus.ensureQueue(role)
        knownQueues.withLock { _ = $0.insert(role) }
    }
}
