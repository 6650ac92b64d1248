import Bus

/// What the planner folds for one run: a free-text goal's ``GoalDraft`` until its plan exists,
/// and the ``RunState`` once the run has a plan (submitted, or drafted and handed on as a plan
/// `goal` with `from_goal`).
struct RunFold: Sendable {
    var draft: GoalDraft?
    var state: RunState?
    /// The id of the goal the run's state started from (`run_finished`'s id derives from it).
    var goalID: String?
    let limits: CostLimits
    /// True when the builder drives an agent, so a task without a `run` step can be built.
    let builderAgent: Bool

    init(limits: CostLimits, builderAgent: Bool = false) {
        self.limits = limits
        self.builderAgent = builderAgent
    }

    /// Folds one input the planner acked earlier; what it decided was sent then.
    mutating func replay(_ input: Envelope) {
        if input.kind == RunMessages.goal {
            if let from = input.body["from_goal"]?.stringValue {
                guard state == nil, draft?.goalID == from else { return }
            } else if GoalDraft.isFreeText(input) {
                guard state == nil, draft == nil, var fresh = try? GoalDraft(goal: input) else { return }
                fresh.costLimits = limits
                // What was asked is on the bus (the first `draft`); the actions were sent then.
                _ = fresh.start(maxQuestions: 0)
                draft = fresh
                return
            } else {
                guard state == nil, draft == nil else { return }
            }
            guard var fresh = try? start(input) else { return }
            _ = fresh.start()
            state = fresh
            goalID = input.id
            return
        }
        if state != nil {
            state!.account(input)
            if let parsed = RunInput(input) { _ = state!.apply(parsed) }
        } else if draft != nil {
            _ = draft!.apply(input)
        }
    }

    /// A run's state from a goal carrying a plan, with the cost of the calls made before it.
    func start(_ goal: Envelope) throws(RoleError) -> RunState {
        guard let text = goal.body["plan_text"]?.stringValue, let file = goal.body["plan_file"]?.stringValue else {
            throw RoleError(.invalidRequest, "goal \(goal.id): \"plan_text\" and \"plan_file\" are required")
        }
        var state = RunState(run: goal.run, plan: try PlanLoader.parse(text, file: file))
        state.costLimits = limits
        state.builderAgent = builderAgent
        state.intent = goal.body["intent"]?.stringValue
        state.writtenSpec = goal.body["spec"]?.stringValue
        state.scopeLimit = ScopeLimit.of(goal: goal.body, plan: state.plan)
        if let draft { state.carry(draft.cost) }
        return state
    }
}
