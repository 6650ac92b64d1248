import Bus

/// What a `build` envelope asks of a builder: one attempt (and candidate) of one task.
///
/// Body fields: `repository` (absolute path), `base` (the commit to build on: the head of the
/// run's integration branch), `attempt` (from 1), `candidate` (from 1; default 1), `title`, `step`
/// (the shell step, run with `/bin/sh -c`), `prompt` and `scope` (the task's, for an agent),
/// `timeout_ms` (default 30 minutes) and `feedback` (the reasons the previous attempt was
/// rejected) and `answers` (each `question` and `answer`). The task id is the envelope's `task`.
public struct BuildRequest: Sendable {
    public var run: String
    public var task: String
    public var title: String
    public var repository: String
    public var base: String
    public var attempt: Int
    public var candidate: Int
    public var step: String?
    /// What the task asks, in words (the plan's `prompt`), for an agent.
    public var prompt: String?
    /// The path globs the task may change.
    public var scope: [String]
    public var timeout: Duration
    public var feedback: String?
    /// The questions earlier runs of the step asked and the answers people gave, oldest first.
    public var answers: [(question: String, answer: String)]

    /// Reads a `build` envelope.
    /// - Throws: ``RoleError`` `invalidRequest` naming the missing or ill-typed field.
    public init(_ envelope: Envelope) throws(RoleError) {
        let body = envelope.body
        func string(_ key: String) throws(RoleError) -> String {
            guard let value = body[key]?.stringValue, !value.isEmpty else {
                throw RoleError(.invalidRequest, "build envelope \(envelope.id): \"\(key)\" is missing or not a string")
            }
            return value
        }
        guard let task = envelope.task else {
            throw RoleError(.invalidRequest, "build envelope \(envelope.id) has no task")
        }
        guard let attempt = body["attempt"]?.intValue, attempt >= 1 else {
            throw RoleError(.invalidRequest, "build envelope \(envelope.id): \"attempt\" must be an integer from 1")
        }
        let candidate = body["candidate"]?.intValue ?? 1
        guard candidate >= 1 else {
            throw RoleError(.invalidRequest, "build envelope \(envelope.id): \"candidate\" must be an integer from 1")
        }
        self.run = envelope.run
        self.task = task
        self.title = body["title"]?.stringValue ?? task
        self.repository = try string("repository")
        self.base = try Git.revision(string("base"))
        self.attempt = attempt
        self.candidate = candidate
        self.step = body["step"]?.stringValue
        self.prompt = body["prompt"]?.stringValue
        self.scope = (body["scope"]?.arrayValue ?? []).compactMap(\.stringValue)
        self.timeout = .milliseconds(body["timeout_ms"]?.intValue ?? 1_800_000)
        self.feedback = body["feedback"]?.stringValue
        self.answers = (body["answers"]?.arrayValue ?? []).map {
            ($0["question"]?.stringValue ?? "", $0["answer"]?.stringValue ?? "")
        }
    }

    /// The branch the attempt is committed on: `planbus/<run>/<task>/<attempt>`, with `-c<k>` for
    /// a candidate of a design competition.
    public var branch: String {
        Self.branch(run: run, task: task, attempt: attempt, candidate: candidate)
    }

    /// The branch of one candidate of one attempt: `planbus/<run>/<task>/<attempt>`, with `-c<k>`
    /// for candidate `k` above 1.
    public static func branch(run: String, task: String, attempt: Int, candidate: Int) -> String {
        "planbus/\(run)/\(task)/\(attempt)" + (candidate > 1 ? "-c\(candidate)" : "")
    }

    /// The attempt's folder in the run folder, for its logs and evidence.
    public func attemptDirectory(in layout: BusLayout) -> String {
        layout.run(run) + "/\(task)/\(attempt)" + (candidate > 1 ? "/c\(candidate)" : "")
    }
}
