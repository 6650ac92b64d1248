/// One line of a run's journal: something that happened to an envelope.
///
/// Journal lines are written after the file operation they describe has succeeded; the queue
/// folders stay the truth, and the journal is how `planbus log` answers for one run without
/// reading anything else.
public struct JournalEvent: Sendable, Equatable {
    /// What happened.
    public enum Kind: String, Sendable, CaseIterable {
        /// Published into a role's `new/`.
        case publish
        /// Claimed from `new/` (epoch 1, or a later epoch after a retry or a take-over).
        case claim
        /// Committed: moved to `done/`.
        case ack
        /// Handed back for a later retry.
        case nack
        /// Moved to `dead/`.
        case dead
        /// A claim whose holder's lease expired was released for take-over.
        case expire
        /// A holder handed its claim back unprocessed: into `new/` when it was stopping, or into
        /// `retry/` until ``JournalEvent/notBefore`` when it deferred the envelope. Not a failed
        /// delivery: it does not count towards `max_attempts`.
        case release
        /// A due retry was moved back to `new/`.
        case requeue
        /// A late step of a fenced holder was refused.
        case fenced
    }

    public var time: Timestamp
    public var event: Kind
    public var id: String
    /// The queue (role) the envelope is in.
    public var role: String
    public var epoch: Int?
    /// The worker that did it.
    public var worker: String
    public var kind: String?
    public var from: String?
    public var task: String?
    public var created: Timestamp?
    public var summary: String?
    public var causation: String?
    public var reason: String?
    /// For nacks and deferrals: when the retry becomes due (milliseconds, on the worker's clock).
    public var notBefore: Int64?
    /// For expiries: the holder whose lease ran out.
    public var previous: String?
    /// For dead letters: the envelope reused an id already delivered to this queue, so this event
    /// is about that second copy, not about the envelope the id first named.
    public var duplicate = false

    /// Creates an event.
    public init(
        time: Timestamp = .now(), event: Kind, id: String, role: String, epoch: Int? = nil, worker: String,
        kind: String? = nil, from: String? = nil, task: String? = nil, created: Timestamp? = nil,
        summary: String? = nil, causation: String? = nil, reason: String? = nil, notBefore: Int64? = nil,
        previous: String? = nil
    ) {
        self.time = time
        self.event = event
        self.id = id
        self.role = role
        self.epoch = epoch
        self.worker = worker
        self.kind = kind
        self.from = from
        self.task = task
        self.created = created
        self.summary = summary
        self.causation = causation
        self.reason = reason
        self.notBefore = notBefore
        self.previous = previous
    }

    /// An event that carries an envelope's headers, so a timeline needs no other read.
    public init(_ event: Kind, envelope: Envelope, role: String, epoch: Int? = nil, worker: String) {
        self.init(
            event: event, id: envelope.id, role: role, epoch: epoch, worker: worker, kind: envelope.kind,
            from: envelope.from.description, task: envelope.task, created: envelope.created,
            summary: envelope.summary, causation: envelope.causation)
    }

    /// The JSON line (without its newline).
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "t": .string(time.description), "ev": .string(event.rawValue), "id": .string(id), "role": .string(role),
            "worker": .string(worker),
        ]
        if let epoch { o["epoch"] = .number(Double(epoch)) }
        if let kind { o["kind"] = .string(kind) }
        if let from { o["from"] = .string(from) }
        if let task { o["task"] = .string(task) }
        if let created { o["created"] = .string(created.description) }
        if let summary { o["summary"] = .string(summary) }
        if let causation { o["causation"] = .string(causation) }
        if let reason { o["reason"] = .string(reason) }
        if let notBefore { o["not_before"] = .string(Timestamp(milliseconds: notBefore).description) }
        if let previous { o["previous"] = .string(previous) }
        if duplicate { o["duplicate"] = .bool(true) }
        return .object(o)
    }

    /// Reads a journal line; `nil` for a line that is not a journal event (a torn last line).
    public init?(json value: JSONValue) {
        guard let o = value.objectValue, let t = o["t"]?.stringValue.flatMap(Timestamp.init(rfc3339:)),
            let ev = o["ev"]?.stringValue.flatMap(Kind.init(rawValue:)), let id = o["id"]?.stringValue,
            let role = o["role"]?.stringValue, let worker = o["worker"]?.stringValue
        else { return nil }
        self.init(
            time: t, event: ev, id: id, role: role, epoch: o["epoch"]?.intValue, worker: worker,
            kind: o["kind"]?.stringValue, from: o["from"]?.stringValue, task: o["task"]?.stringValue,
            created: o["created"]?.stringValue.flatMap(Timestamp.init(rfc3339:)), summary: o["summary"]?.stringValue,
            causation: o["causation"]?.stringValue, reason: o["reason"]?.stringValue,
            notBefore: o["not_before"]?.stringValue.flatMap(Timestamp.init(rfc3339:))?.milliseconds,
            previous: o["previous"]?.stringValue)
        self.duplicate = o["duplicate"] == .bool(true)
    }
}
