import Bus
import FileFormats

/// A free-text goal on its way to a plan, folded like a run: the goal, the model's questions about
/// its intent and people's answers, the model's tech spec, then the model's plan, tried up to
/// three times. Once a plan is valid the planner sends itself a `goal` carrying it (body
/// `from_goal`), and the run goes on exactly like a submitted plan.
///
/// The goal's body: `goal_text`, `repository` (absolute), `base_branch`, `risk` (or `null`: the
/// model chooses), `questions` (`false` to plan without asking), `allow_model_gates`, `scope` (the
/// globs the model's tasks must stay inside, optional), `allow_model_scope`, `summary`.
public struct GoalDraft: Sendable, Equatable {
    /// The kind of the planner's envelopes to itself that carry its model's answers.
    public static let kind = "draft"

    /// Where the draft is.
    public enum Stage: String, Sendable, Equatable {
        /// Asking the model for questions, or waiting for people's answers.
        case intent
        /// The model is writing the tech spec.
        case spec
        /// The model is writing the plan.
        case plan
        /// The plan is valid and was handed on as the run's plan.
        case planned
    }

    /// A question about the goal's intent, waiting for (or given) an answer.
    public struct Question: Sendable, Equatable {
        /// The id of the `question` envelope people answer.
        public var id: String
        public var text: String
        public var answer: String?
    }

    public let run: String
    /// The id of the free-text goal.
    public let goalID: String
    public let text: String
    public let repository: String
    public let baseBranch: String
    /// The risk the goal was submitted with, or `nil` when the model chooses.
    public let risk: PlanRisk?
    public let askQuestions: Bool
    public let allowModelGates: Bool
    /// True to let the model give tasks any scope (otherwise ``scope`` limits them, when given).
    public let allowModelScope: Bool
    /// The paths the model's tasks may change (`planbus submit --goal … --scope GLOB`), or `nil`.
    public let scope: [String]?
    public internal(set) var stage: Stage = .intent
    public internal(set) var questions: [Question] = []
    /// The plan text accepted, once a draft of it is valid.
    public internal(set) var planText: String?
    public internal(set) var halted: String?
    /// The dead letter that halted the draft, if one did.
    public internal(set) var deadLetter: DeadLetterOutcome?
    public internal(set) var cost = RunCost()
    public var costLimits = CostLimits()
    /// The tries of the stage in progress so far.
    public internal(set) var tries = 0
    /// The reason the last try was not usable.
    public internal(set) var lastError: String?

    /// Reads a free-text goal.
    /// - Throws: ``RoleError`` `invalidRequest` when the body lacks the text or the repository.
    public init(goal: Envelope) throws(RoleError) {
        let body = goal.body
        guard let text = body["goal_text"]?.stringValue, !text.allSatisfy(\.isWhitespace) else {
            throw RoleError(.invalidRequest, "goal \(goal.id): \"goal_text\" is empty")
        }
        guard let repository = body["repository"]?.stringValue, repository.hasPrefix("/") else {
            throw RoleError(.invalidRequest, "goal \(goal.id): \"repository\" must be an absolute path")
        }
        var risk: PlanRisk?
        if let word = body["risk"]?.stringValue {
            guard let parsed = PlanRisk(rawValue: word) else {
                throw RoleError(.invalidRequest, "goal \(goal.id): risk must be low, medium or high, got \(word)")
            }
            risk = parsed
        }
        self.run = goal.run
        self.goalID = goal.id
        self.text = text
        self.repository = repository
        self.baseBranch = body["base_branch"]?.stringValue ?? "main"
        self.risk = risk
        self.askQuestions = body["questions"] != .bool(false)
        self.allowModelGates = body["allow_model_gates"] == .bool(true)
        self.allowModelScope = body["allow_model_scope"] == .bool(true)
        self.scope = ScopeLimit.requested(in: body)
    }

    /// True for a goal envelope carrying free text instead of a plan.
    public static func isFreeText(_ goal: Envelope) -> Bool { goal.body["goal_text"] != nil }

    /// Begins with the questions about the intent: the model's, or none when the goal or the
    /// planner's settings (`maxQuestions` 0) say not to ask. Either way a `draft` of questions
    /// records it on the bus, so the fold never depends on the settings.
    mutating func start(maxQuestions: Int) -> [DraftAction] {
        stage = .intent
        tries = 1
        guard askQuestions, maxQuestions > 0 else {
            return [.skipQuestions(askQuestions ? "the planner asks no questions (questions: 0)" : "--no-questions")]
        }
        return [.call(.questions, attempt: 1, feedback: nil)]
    }

    /// Applies one input the planner took for the run: a `draft` of its model, an `answer`, or a
    /// `dead_letter` notice (which halts the draft).
    mutating func apply(_ input: Envelope) -> [DraftAction] {
        cost.add(input.body["usage"])
        if halted == nil, stage != .planned, let why = cost.exceeded(costLimits) {
            halted = why
            return []
        }
        if input.kind == DeadLetterNotice.kind {
            // A dead letter of the draft (one of its model calls, or the plan goal it made) ends it.
            if halted == nil, let notice = DeadLetterNotice(input) {
                halted = notice.description
                deadLetter = DeadLetterOutcome(notice: notice, effect: .runHalted, outcome: "the draft halted")
            }
            return []
        }
        guard halted == nil, stage != .planned else { return [] }
        if input.kind == GoalDraft.kind { return drafted(Draft(input), id: input.id) }
        if input.kind == RunMessages.answer, input.task == nil, let id = input.body["question_id"]?.stringValue {
            return answered(id, answer: input.body["answer"]?.stringValue ?? "")
        }
        return []
    }

    private mutating func drafted(_ draft: Draft, id: String) -> [DraftAction] {
        let expected: Draft.Purpose?
        switch stage {
        case .intent: expected = questions.isEmpty ? .questions : nil
        case .spec: expected = .spec
        case .plan: expected = .plan
        case .planned: expected = nil
        }
        guard draft.purpose == expected, draft.attempt == tries else { return [] }
        if let error = draft.error {
            lastError = error
            if draft.isLastTry {
                halted = draft.failure
                return []
            }
            tries += 1
            return [.call(draft.purpose, attempt: tries, feedback: error)]
        }
        lastError = nil
        switch draft.purpose {
        case .questions:
            questions = draft.questions.enumerated().map { index, text in
                Question(id: RunMessages.derivedID(from: id, "intent-q\(index + 1)"), text: text)
            }
            if questions.isEmpty { return [.writeIntent] + enter(.spec) }
            return [.ask(questions)]
        case .spec:
            return [.writeSpec(draft.text)] + enter(.plan)
        case .plan:
            stage = .planned
            planText = draft.text
            return [.plan(draft.text)]
        }
    }

    private mutating func answered(_ id: String, answer: String) -> [DraftAction] {
        guard stage == .intent, let index = questions.firstIndex(where: { $0.id == id }),
            questions[index].answer == nil
        else { return [] }
        questions[index].answer = answer
        guard questions.allSatisfy({ $0.answer != nil }) else { return [] }
        return [.writeIntent] + enter(.spec)
    }

    private mutating func enter(_ next: Stage) -> [DraftAction] {
        stage = next
        tries = 1
        switch next {
        case .spec: return [.call(.spec, attempt: 1, feedback: nil)]
        case .plan: return [.call(.plan, attempt: 1, feedback: nil)]
        case .intent, .planned: return []
        }
    }

    /// The questions still waiting for an answer.
    public var waiting: [Question] { stage == .intent ? questions.filter { $0.answer == nil } : [] }

    /// `INTENT.md`: the goal, and each question with its answer.
    public var intentMarkdown: String {
        var lines = ["# Intent", "", "Goal:", ""]
        lines += text.split(separator: "\n", omittingEmptySubsequences: false).map { "> " + $0 }
        lines += [
            "",
            "Repository \(repository), base branch \(baseBranch)" + (risk.map { ", risk \($0.rawValue)" } ?? "") + ".",
        ]
        if questions.isEmpty { lines += ["", "No questions were asked about the goal."] }
        for (index, question) in questions.enumerated() {
            lines += ["", "## Q\(index + 1): " + question.text.split(separator: "\n").joined(separator: " "), ""]
            lines.append(question.answer ?? "(not answered)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The limit on the scopes of the plan the model drafts: the goal's `scope`, or none.
    var scopeLimit: ScopeLimit {
        allowModelScope || scope == nil ? .none : ScopeLimit(globs: scope, source: "--scope")
    }

    /// What the plan goal carries on from this goal: `scope` and `allow_model_scope`, so that the
    /// run's follow-ups are limited as the goal asked.
    var scopeFields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["allow_model_scope": .bool(allowModelScope)]
        if let scope { fields["scope"] = .array(scope.map(JSONValue.string)) }
        return fields
    }

    /// The draft as `runs/<run>/status.json` holds it until the plan exists: `run`, `plan` (`null`),
    /// `goal`, `risk`, `stage` (`intent`, `spec`, `plan`), `finished` (true once halted),
    /// `halted`, `waiting`, `questions`, `tries`, `last_error`, `tasks` (empty), the cost, and
    /// `dead_letters` when a dead letter halted it.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "run": .string(run), "plan": .null, "goal": .string(text),
            "risk": risk.map { .string($0.rawValue) } ?? .null,
            "stage": .string(stage.rawValue), "finished": .bool(halted != nil),
            "halted": halted.map(JSONValue.string) ?? .null, "tries": .number(Double(tries)),
            "last_error": lastError.map(JSONValue.string) ?? .null, "tasks": .array([]),
            "questions": .array(
                questions.map {
                    [
                        "id": .string($0.id), "text": .string($0.text),
                        "answer": $0.answer.map(JSONValue.string) ?? .null,
                    ]
                }),
        ]
        if let deadLetter { o["dead_letters"] = .array([deadLetter.json]) }
        let open = waiting
        o["waiting"] =
            open.isEmpty || halted != nil
            ? .null
            : .string(
                "waiting on a person: "
                    + open.map { "question \($0.id) on the goal (planbus answer \($0.id) TEXT)" }.joined(
                        separator: "; "))
        if cost.records > 0 { o.merge(cost.json) { _, new in new } }
        return .object(o)
    }
}

/// What the planner does for a free-text goal, as ``GoalDraft`` decides it.
enum DraftAction: Sendable, Equatable {
    /// Ask the model, then send the answer to the planner (`draft`).
    case call(Draft.Purpose, attempt: Int, feedback: String?)
    /// Send the planner a `draft` of no questions, for this reason, without asking the model.
    case skipQuestions(String)
    /// Send the intent questions to people, in one batch.
    case ask([GoalDraft.Question])
    /// Write `INTENT.md`.
    case writeIntent
    /// Write `SPEC.md`.
    case writeSpec(String)
    /// Hand the valid plan on: write `plan.yaml` and send the planner the run's plan `goal`.
    case plan(String)
}
