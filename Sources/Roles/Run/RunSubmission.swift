import Bus
import Foundation

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
    ///   - scope: The globs a model-proposed follow-up task must stay inside (body `scope`); `nil`
    ///     for the union of the plan's tasks' scopes.
    ///   - allowModelScope: True to let follow-up tasks have any scope (body `allow_model_scope`).
    ///   - keys: The variables holding API keys (``AgentSettings/keyVariables``), whose values are
    ///     redacted from the plan's text whatever their names.
    /// - Returns: The envelope, not yet published.
    /// - Throws: ``RoleError`` `invalidRequest` when the plan holds something that looks like a
    ///   credential and, with it redacted, no longer loads (a private key or a secret assignment
    ///   inside a quoted `run` step): the roles could not read the plan the goal carries.
    public static func goal(
        planFile: String, text: String, plan: Plan, run: String, worker: WorkerID, id: String? = nil,
        created: Timestamp? = nil, scope: [String]? = nil, allowModelScope: Bool = false, keys: [String] = []
    ) throws(RoleError) -> Envelope {
        let redacted = redactedPlan(text, keys: keys)
        if redacted != text {
            do {
                _ = try PlanLoader.parse(redacted, file: planFile)
            } catch {
                throw RoleError(
                    .invalidRequest,
                    "\(planFile): the plan holds what looks like a credential, which is kept off the bus, and "
                        + "without it the plan no longer reads (\(error.message)); have the step read the "
                        + "credential from its environment or a file instead")
            }
        }
        var body: [String: JSONValue] = [
            "plan_file": .string(planFile), "plan_text": .string(redacted),
            "summary": .string("plan \(plan.name)"),
        ]
        if let scope, !scope.isEmpty { body["scope"] = .array(scope.map(JSONValue.string)) }
        if allowModelScope { body["allow_model_scope"] = .bool(true) }
        return Envelope(
            id: id ?? EnvelopeID.make(), run: run, kind: RunMessages.goal, from: worker, to: "planner",
            created: created ?? .now(), body: body)
    }

    /// `text` with every credential in it replaced (``Redactor``), so that none reaches the bus:
    /// every role reads the plan from the goal. The mark is `(redacted)`, which YAML reads as
    /// plain text wherever the credential stood. The values of the variables `keys` names are
    /// redacted whatever their names.
    public static func redactedPlan(_ text: String, keys: [String] = []) -> String {
        let redacted = Redactor(environment: ProcessInfo.processInfo.environment, keys: keys).redact(text)
        guard redacted != text else { return text }
        return redacted.replacingOccurrences(of: Redactor.mark, with: "(redacted)")
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
        /// The globs every task the model drafts (and every follow-up) must stay inside, or `nil`.
        public var scope: [String]?
        /// True to let the model give tasks and follow-ups any scope.
        public var allowModelScope: Bool

        public init(
            repository: String, baseBranch: String = "main", risk: PlanRisk? = nil, questions: Bool = true,
            allowModelGates: Bool = false, scope: [String]? = nil, allowModelScope: Bool = false
        ) {
            self.scope = scope
            self.allowModelScope = allowModelScope
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
    /// `allow_model_scope`, `scope` (when given), `summary`.
    ///
    /// - Parameters:
    ///   - text: What is wanted, in words.
    ///   - options: The repository, base branch, risk and what the model may do.
    ///   - run: The run id.
    ///   - worker: Who sends the goal.
    ///   - id: The envelope id; a new one when `nil`.
    ///   - keys: The variables holding API keys, whose values are redacted from the goal's text
    ///     whatever their names, as every credential is.
    /// - Returns: The envelope, not yet published.
    public static func goal(
        text: String, options: GoalOptions, run: String, worker: WorkerID, id: String? = nil, keys: [String] = []
    ) -> Envelope {
        let text = Redactor(environment: ProcessInfo.processInfo.environment, keys: keys).redact(text)
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        var envelope = Envelope(
            id: id ?? EnvelopeID.make(), run: run, kind: RunMessages.goal, from: worker, to: "planner",
            body: [
                "goal_text": .string(text), "repository": .string(options.repository),
                "base_branch": .string(options.baseBranch),
                "risk": options.risk.map { .string($0.rawValue) } ?? .null, "questions": .bool(options.questions),
                "allow_model_gates": .bool(options.allowModelGates),
                "summary": .string("goal: " + (line.count > 80 ? String(line.prefix(79)) + "…" : line)),
                "allow_model_scope": .bool(options.allowModelScope),
            ])
        if let scope = options.scope, !scope.isEmpty {
            envelope.body["scope"] = .array(scope.map(JSONValue.string))
        }
        return envelope
    }
}
