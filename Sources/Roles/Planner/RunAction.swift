/// What the planner sends in answer to one input, as ``RunState`` decides it; ``PlannerRole``
/// turns each into an envelope whose id derives from the input's.
public enum RunAction: Sendable, Equatable {
    /// Send the planner itself the envelope of a document stage (`discover` or `spec`).
    case stage(RunStage)
    /// Ask the verifier to run the preflight or smoke gates (`check`).
    case check(RunStage)
    /// Send a builder one candidate of one attempt (`build`).
    case build(Build)
    /// Ask the judge to pick among an attempt's verified candidates (`judge`).
    case judge(task: String, attempt: Int, candidates: [RunInput.Verdict])
    /// Ask people to approve a verified attempt (`approval` to `human`).
    case approve(task: String, attempt: Int, verdict: RunInput.Verdict)
    /// Ask the verifier to integrate an approved candidate (`integrate`).
    case integrate(task: String, attempt: Int, verdict: RunInput.Verdict)
    /// Forward a builder's question to people (`question` to `human`).
    case ask(task: String, attempt: Int, candidate: Int, id: String, text: String)
    /// Ask the docs role for the task's changelog entry (`changelog`).
    case changelog(task: String, commit: String, attempts: Int)
    /// Tell the docs role the run has finished (`run_finished`).
    case finish

    /// One build to send.
    public struct Build: Sendable, Equatable {
        public var task: String
        public var attempt: Int
        public var candidate: Int
        /// The previous attempt's feedback, for a retry.
        public var feedback: String?
        /// The questions the task's steps asked and the answers people gave, oldest first.
        public var answers: [QuestionAndAnswer]

        public init(
            task: String, attempt: Int, candidate: Int = 1, feedback: String? = nil, answers: [QuestionAndAnswer] = []
        ) {
            self.task = task
            self.attempt = attempt
            self.candidate = candidate
            self.feedback = feedback
            self.answers = answers
        }
    }

    /// A question a step asked and the answer a person gave.
    public struct QuestionAndAnswer: Sendable, Equatable {
        public var question: String
        public var answer: String

        public init(question: String, answer: String) {
            self.question = question
            self.answer = answer
        }
    }
}
