import Bus

/// The goal envelope that starts a run, built in one place for every way a plan is submitted
/// (`planbus submit`, the planner's backlog folder).
public enum RunSubmission {
    /// The goal of a run: a `goal` envelope to the planner carrying the plan's text and file.
    ///
    /// The plan text is authoritative: every role re-reads the plan from it, resolving a relative
    /// `repository:` against the folder of `planFile`, so `planFile` must be the path the plan was
    /// checked at.
    ///
    /// - Parameters:
    ///   - planFile: The absolute path the plan was loaded from.
    ///   - text: The plan file's text, as loaded.
    ///   - plan: The plan `text` loads as (its name goes into the summary).
    ///   - run: The run id.
    ///   - worker: Who sends the goal.
    ///   - id: The envelope id; a new one when `nil`. A sender that may send the same goal again
    ///     (after a crash) passes the same id, so the bus's duplicate detection keeps one.
    ///   - created: When the goal was made; now when `nil`.
    /// - Returns: The envelope, not yet published.
    public static func goal(
        planFile: String, text: String, plan: Plan, run: String, worker: WorkerID, id: String? = nil,
        created: Timestamp? = nil
    ) -> Envelope {
        Envelope(
            id: id ?? EnvelopeID.make(), run: run, kind: RunMessages.goal, from: worker, to: "planner",
            created: created ?? .now(),
            body: [
                "plan_file": .string(planFile), "plan_text": .string(text), "summary": .string("plan \(plan.name)"),
            ])
    }

    /// What a free-text goal asks of the planner besides its text.
    public struct GoalOptions: Sendable, Equatable {
        /// The git repository to change, absolute.
        public var repository: String
        /// The branch the run starts from.
        public var baseBranch: String
        /// The risk, or `nil` for the planner's model to choose.
        public var risk: PlanRisk?
        /// False to plan without asking people about the intent first.
        public var questions: Bool
        /// True to let the model propose gates (otherwise a plan with gates is refused).
        public var allowModelGates: Bool

        public init(
            repository: String, baseBranch: String = "main", risk: PlanRisk? = nil, questions: Bool = true,
            allowModelGates: Bool = false
        ) {
            self.repository = repository
            self.baseBranch = baseBranch
            self.risk = risk
            self.questions = questions
            self.allowModelGates = allowModelGates
        }
    }

    /// The goal of a run given as free text: the planner's model asks people about its intent,
    /// writes the tech spec and the plan, and the run goes on with that plan. Body: `goal_text`,
    /// `repository`, `base_branch`, `risk` (or `null`), `questions`, `allow_model_gates`,
    /// `summary`.
    ///
    /// - Parameters:
    ///   - text: What is wanted, in words.
    ///   - options: The repository, base branch, risk and what the model may do.
    ///   - run: The run id.
    ///   - worker: Who sends the goal.
    ///   - id: The envelope id; a new one when `nil`.
    /// - Returns: The envelope, not yet published.
    public static func goal(
        text: String, options: GoalOptions, run: String, worker: WorkerID, id: String? = nil
    ) -> Envelope {
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return Envelope(
            id: id ?? EnvelopeID.make(), run: run, kind: RunMessages.goal, from: worker, to: "planner",
            body: [
                "goal_text": .string(text), "repository": .string(options.repository),
                "base_branch": .string(options.baseBranch),
                "risk": options.risk.map { .string($0.rawValue) } ?? .null, "questions": .bool(options.questions),
                "allow_model_gates": .bool(options.allowModelGates),
                "summary": .string("goal: " + (line.count > 80 ? String(line.prefix(79)) + "…" : line)),
            ])
    }
}
