import Bus

/// The planner's notice of an envelope of one of its runs that a queue dead-lettered
/// (`dead_letter`, planner → planner; docs/PROTOCOL.md and docs/RUN.md).
///
/// ``DeadLetterScan`` makes one for each dead letter it finds in `q/*/dead/`; its id derives from
/// the dead envelope's id and queue, so however many scans find one letter, the planner's queue
/// delivers one notice (its `seen/` marker turns every other copy into a duplicate). The planner
/// folds it like any other input (``RunInput/deadLetter(_:)``).
public struct DeadLetterNotice: Sendable, Equatable {
    /// The envelope kind of a notice.
    public static let kind = "dead_letter"

    /// The dead envelope's id.
    public var id: String
    /// The dead envelope's kind.
    public var kind: String
    /// The queue it was dead-lettered in.
    public var role: String
    /// Its file in `q/<role>/dead/`.
    public var file: String
    /// Its task, attempt and candidate, when it belongs to a task.
    public var task: String?
    public var attempt: Int?
    public var candidate: Int?
    /// The stage of a `check` (`preflight` or `smoke`).
    public var stage: String?
    /// Why it was dead-lettered (its `.reason.json`).
    public var reason: String

    public init(
        id: String, kind: String, role: String, file: String, task: String? = nil, attempt: Int? = nil,
        candidate: Int? = nil, stage: String? = nil, reason: String
    ) {
        self.id = id
        self.kind = kind
        self.role = role
        self.file = file
        self.task = task
        self.attempt = attempt
        self.candidate = candidate
        self.stage = stage
        self.reason = reason
    }

    /// The notice of `envelope`, found dead as `dead/<file>` in `role`'s queue with `reason`.
    public init(dead envelope: Envelope, role: String, file: String, reason: String) {
        let body = envelope.body
        let task = envelope.task ?? body["task"]?.stringValue
        self.init(
            id: envelope.id, kind: envelope.kind, role: role, file: file, task: task,
            attempt: task == nil ? nil : body["attempt"]?.intValue ?? envelope.attempt,
            candidate: task == nil ? nil : body["candidate"]?.intValue ?? 1, stage: body["stage"]?.stringValue,
            reason: reason)
    }

    /// Reads a notice's body; `nil` when it lacks `dead_id`, `dead_kind`, `dead_role` or `reason`.
    public init?(_ envelope: Envelope) {
        let body = envelope.body
        guard envelope.kind == Self.kind, let id = body["dead_id"]?.stringValue,
            let kind = body["dead_kind"]?.stringValue, let role = body["dead_role"]?.stringValue,
            let reason = body["reason"]?.stringValue
        else { return nil }
        self.init(
            id: id, kind: kind, role: role, file: body["dead_file"]?.stringValue ?? "", task: body["task"]?.stringValue,
            attempt: body["attempt"]?.intValue, candidate: body["candidate"]?.intValue,
            stage: body["stage"]?.stringValue, reason: reason)
    }

    /// The id of the notice of the envelope `id` dead in `role`'s queue: the same for every scan.
    public static func noticeID(of id: String, role: String) -> String {
        RunMessages.derivedID(from: id + "@" + role, "dead-letter-" + role)
    }

    /// The notice as an envelope from `worker` to the planner, in `run`.
    public func envelope(run: String, from worker: WorkerID) -> Envelope {
        var body: [String: JSONValue] = [
            "dead_id": .string(id), "dead_kind": .string(kind), "dead_role": .string(role), "dead_file": .string(file),
            "reason": .string(reason),
            "summary": .string("\(kind) \(id) was dead-lettered in the \(role) queue: \(reason)"),
        ]
        if let task { body["task"] = .string(task) }
        if let attempt { body["attempt"] = .number(Double(attempt)) }
        if let candidate { body["candidate"] = .number(Double(candidate)) }
        if let stage { body["stage"] = .string(stage) }
        return Envelope(
            id: Self.noticeID(of: id, role: role), run: run, task: task, kind: Self.kind, from: worker, to: "planner",
            causation: id, attempt: attempt ?? 1, body: body)
    }

    /// What the run's status says of it: `the build envelope X (task t, attempt 2) was
    /// dead-lettered in the builder queue: REASON`.
    public var description: String {
        var what = "the \(kind) envelope \(id)"
        if let task {
            var parts = ["task \(task)"]
            if let attempt { parts.append("attempt \(attempt)") }
            if let candidate, candidate > 1 { parts.append("candidate \(candidate)") }
            what += " (" + parts.joined(separator: ", ") + ")"
        }
        return what + " was dead-lettered in the \(role) queue: \(reason)"
    }
}
