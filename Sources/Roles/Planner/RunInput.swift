import Bus

/// One input of a run after its goal, as the planner's fold reads it from an envelope it took.
public enum RunInput: Sendable, Equatable {
    /// The planner's own `discover` or `spec` envelope: that stage's document is written.
    case stageDone(RunStage)
    /// The verifier ran the preflight or smoke gates (`checked`).
    case checked(stage: RunStage, passed: Bool, summary: String)
    /// The verifier's verdict on one candidate of one attempt, or on an integration.
    case verdict(Verdict)
    /// The judge picked a candidate of an attempt (`judgment`).
    case judgment(task: String, attempt: Int, winner: Int?, reasons: String)
    /// A person approved or rejected an attempt (`decision`).
    case decision(task: String, attempt: Int, approved: Bool, by: String, reason: String?)
    /// A builder's step asked a question (`question` to the planner); `id` is the id of the
    /// question the planner forwards to people.
    case question(task: String, attempt: Int, candidate: Int, id: String, text: String)
    /// A person answered a question the planner forwarded (`answer`).
    case answer(task: String, attempt: Int, questionID: String, question: String, answer: String)
    /// The docs role wrote the task's changelog entry on the integration branch (`documented`).
    case documented(task: String)
    /// A stage's document could not be written (the model's tech spec kept lacking sections): the
    /// run halts with the reason.
    case stageFailed(RunStage, reason: String)
    /// An envelope of the run was dead-lettered in some queue (the planner's `dead_letter` notice,
    /// ``DeadLetterNotice``).
    case deadLetter(DeadLetterNotice)

    /// A verifier's verdict.
    public struct Verdict: Sendable, Equatable {
        public var task: String
        public var attempt: Int
        public var candidate: Int
        /// True when the change passed every check.
        public var approved: Bool
        /// The merge commit on the integration branch, when it was integrated.
        public var integrated: String?
        /// What the change waits for before integration (`judge` or `approval`), if anything.
        public var pending: String?
        public var commit: String?
        public var feedback: String
        /// The changed files and lines of the verified change (for the run's budget).
        public var files: Int
        public var lines: Int
        /// The verdict's body, handed on to the judge and to people.
        public var body: JSONValue

        public init(
            task: String, attempt: Int, candidate: Int = 1, approved: Bool, integrated: String?,
            pending: String? = nil, commit: String? = nil, feedback: String, files: Int = 0, lines: Int = 0,
            body: JSONValue = .object([:])
        ) {
            self.task = task
            self.attempt = attempt
            self.candidate = candidate
            self.approved = approved
            self.integrated = integrated
            self.pending = pending
            self.commit = commit
            self.feedback = feedback
            self.files = files
            self.lines = lines
            self.body = body
        }
    }

    /// The kinds the planner takes, besides `goal`.
    public static let kinds: Set<String> = [
        RunMessages.verdict, RunMessages.discover, RunMessages.spec, RunMessages.checked, RunMessages.judgment,
        RunMessages.decision, RunMessages.question, RunMessages.answer, RunMessages.documented, GoalDraft.kind,
        DeadLetterNotice.kind,
    ]

    /// Reads an envelope the planner took; `nil` for a kind that is not an input of a run, or an
    /// envelope lacking what its kind needs.
    public init?(_ envelope: Envelope) {
        let body = envelope.body
        let task = envelope.task ?? body["task"]?.stringValue
        let attempt: Int? = body["attempt"]?.intValue ?? envelope.attempt
        switch envelope.kind {
        case RunMessages.discover: self = .stageDone(.discovery)
        case RunMessages.spec:
            // A spec the model writes is done by its draft, not by the stage envelope.
            guard body["writer"]?.stringValue != "model" else { return nil }
            self = .stageDone(.spec)
        case GoalDraft.kind:
            guard body["purpose"]?.stringValue == Draft.Purpose.spec.rawValue else { return nil }
            let draft = Draft(envelope)
            if draft.error == nil {
                self = .stageDone(.spec)
            } else if draft.isLastTry {
                self = .stageFailed(.spec, reason: draft.failure)
            } else {
                return nil
            }
        case RunMessages.checked:
            guard let stage = body["stage"]?.stringValue.flatMap(RunStage.init(rawValue:)) else { return nil }
            self = .checked(
                stage: stage, passed: body["passed"] == .bool(true), summary: body["summary"]?.stringValue ?? "")
        case RunMessages.verdict:
            guard let task, let attempt else { return nil }
            let diff = body["diff"]
            self = .verdict(
                Verdict(
                    task: task, attempt: attempt, candidate: body["candidate"]?.intValue ?? 1,
                    approved: body["approved"] == .bool(true), integrated: body["integrated"]?.stringValue,
                    pending: body["pending"]?.stringValue, commit: body["commit"]?.stringValue,
                    feedback: body["feedback"]?.stringValue ?? "", files: diff?["files"]?.intValue ?? 0,
                    lines: (diff?["insertions"]?.intValue ?? 0) + (diff?["deletions"]?.intValue ?? 0),
                    body: .object(body)))
        case RunMessages.judgment:
            guard let task, let attempt else { return nil }
            self = .judgment(
                task: task, attempt: attempt, winner: body["winner"]?.intValue,
                reasons: body["reasons"]?.stringValue ?? "")
        case RunMessages.decision:
            guard let task, let attempt else { return nil }
            self = .decision(
                task: task, attempt: attempt, approved: body["approved"] == .bool(true),
                by: body["by"]?.stringValue ?? "someone", reason: body["reason"]?.stringValue)
        case RunMessages.question:
            guard let task, let attempt, let text = body["question"]?.stringValue else { return nil }
            let candidate = body["candidate"]?.intValue ?? 1
            self = .question(
                task: task, attempt: attempt, candidate: candidate,
                id: RunMessages.derivedID(from: envelope.id, "question-\(task)-\(attempt)-\(candidate)"), text: text)
        case RunMessages.answer:
            guard let task, let attempt, let id = body["question_id"]?.stringValue else { return nil }
            self = .answer(
                task: task, attempt: attempt, questionID: id, question: body["question"]?.stringValue ?? "",
                answer: body["answer"]?.stringValue ?? "")
        case RunMessages.documented:
            guard let task else { return nil }
            self = .documented(task: task)
        case DeadLetterNotice.kind:
            guard let notice = DeadLetterNotice(envelope) else { return nil }
            self = .deadLetter(notice)
        default:
            return nil
        }
    }
}
