import Bus

/// A request waiting for a person in the `human` queue: a `question` any role asked, or an
/// `approval` the planner needs before it integrates a task.
///
/// No process serves `q/human/`; `planbus answer`, `approve` and `reject` claim a request from it
/// and ack it with the reply, so each request gets exactly one reply (docs/PROTOCOL.md, 9.6).
/// The accessors read the body tolerantly: a field that is missing or of another type reads as
/// absent.
public struct HumanRequest: Sendable, Equatable {
    /// The queue people answer from.
    public static let role = "human"
    /// A role asks a person something: `question`, optional `topic`, `options`, `recommendation`.
    public static let question = "question"
    /// The planner asks a person to approve a task before it is integrated.
    public static let approval = "approval"
    /// The reply to a ``question``.
    public static let answer = "answer"
    /// The reply to an ``approval``.
    public static let decision = "decision"

    /// The request as it was published.
    public var envelope: Envelope
    /// Its file name in `new/` or `cur/`.
    public var name: String
    /// How many times it has been claimed before (0 for a request never claimed).
    public var deliveries: Int
    /// The worker holding it right now (a reply in progress), or `nil` while it waits in `new/`.
    public var holder: WorkerID?

    /// Creates a request read from the queue.
    public init(envelope: Envelope, name: String, deliveries: Int, holder: WorkerID? = nil) {
        self.envelope = envelope
        self.name = name
        self.deliveries = deliveries
        self.holder = holder
    }

    /// The request's envelope id, which `planbus answer` takes.
    public var id: String { envelope.id }
    /// `question`, `approval`, or another kind a role addressed to people.
    public var kind: String { envelope.kind }
    /// True for a `question`.
    public var isQuestion: Bool { kind == Self.question }
    /// True for an `approval`.
    public var isApproval: Bool { kind == Self.approval }

    private var body: [String: JSONValue] { envelope.body }

    private func text(_ key: String) -> String? {
        guard let value = body[key]?.stringValue, !value.isEmpty else { return nil }
        return value
    }

    /// The role queue the reply goes to: the body's `reply_to`, else the asking worker's role.
    public var replyTo: String { text("reply_to") ?? envelope.from.role }
    /// The question's text.
    public var question: String? { text("question") }
    /// A one-line topic of the question.
    public var topic: String? { text("topic") }
    /// The answers the asker suggests.
    public var options: [String] { body["options"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    /// The answer the asker recommends.
    public var recommendation: String? { text("recommendation") }
    /// The task's title, for an approval.
    public var title: String? { text("title") }
    /// The candidate to approve.
    public var candidate: Int? { body["candidate"]?.intValue }
    /// The commit to approve.
    public var commit: String? { text("commit") }
    /// The branch holding the commit.
    public var branch: String? { text("branch") }
    /// The evidence folder of the attempt.
    public var evidence: String? { text("evidence") }
    /// The body's one-line summary.
    public var summary: String? { text("summary") }

    /// The size of the change to approve, from the body's `diff`.
    public var diff: DiffStats? {
        guard let diff = body["diff"]?.objectValue else { return nil }
        let paths = diff["paths"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let files = diff["files"]?.intValue ?? diff["files"]?.arrayValue?.count ?? paths.count
        return DiffStats(
            files: files, insertions: diff["insertions"]?.intValue ?? 0, deletions: diff["deletions"]?.intValue ?? 0,
            paths: paths)
    }

    /// The verifier's gate results, by name, and whether each passed.
    public var gates: [(name: String, passed: Bool)] {
        (body["gates"]?.arrayValue ?? []).compactMap { gate in
            guard let object = gate.objectValue else { return nil }
            let name = object["name"]?.stringValue ?? "?"
            if case .bool(let passed) = object["passed"] { return (name, passed) }
            let outcome = object["outcome"]?.stringValue ?? ""
            return (name, ["passed", "pass", "ok", "exit 0", "exited 0", "success"].contains(outcome))
        }
    }

    /// Milliseconds since the request was created, by `now`.
    public func ageMs(now: Timestamp) -> Int64 { max(0, now.milliseconds - envelope.created.milliseconds) }

    /// The size of a change: files, lines added and deleted, and the paths.
    public struct DiffStats: Sendable, Equatable {
        /// How many files changed.
        public var files: Int
        /// Lines added.
        public var insertions: Int
        /// Lines deleted.
        public var deletions: Int
        /// The changed paths.
        public var paths: [String]

        /// Creates the size of a change.
        public init(files: Int, insertions: Int, deletions: Int, paths: [String]) {
            self.files = files
            self.insertions = insertions
            self.deletions = deletions
            self.paths = paths
        }
    }
}
