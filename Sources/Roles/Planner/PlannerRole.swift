import Bus
import Foundation

/// The planner: drives a run from its `goal` to `run_finished`, one input at a time.
///
/// Its state is not kept in memory between envelopes: for every input it folds the run's earlier
/// inputs (``RunHistory``) into a ``RunState``, applies the new one, and sends the envelopes of the
/// ``RunAction``s that decides, with ids derived from the input's (``RunMessages/derivedID``). It
/// writes the state to `runs/<run>/status.json` for `planbus status`. The document stages of
/// medium and high risk plans (``Discovery``, ``TechSpec``) are its own envelopes: it writes the
/// document when it takes one.
public struct PlannerRole: Role {
    /// What this process has read of the bus already, so each input reads only what is new.
    let memory = RunHistory.Memory()

    public init() {}

    public var kinds: Set<String> { RunInput.kinds.union([RunMessages.goal]) }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let envelope = claim.envelope
        let layout = context.bus.layout
        let history = RunHistory(layout: layout, run: envelope.run, memory: memory).inputs().filter {
            $0.id != envelope.id
        }
        // Resume from the fold this process made last time when the history still starts with
        // the inputs it was made from; otherwise fold from the start.
        let ids = history.map(\.id)
        var fold = RunFold(
            limits: CostLimits(context.settings.agents),
            builderAgent: RunSupport.builderAgent(context.settings.agents) != nil)
        var start = 0
        if let remembered = memory.fold(run: envelope.run), remembered.ids.count <= ids.count,
            Array(ids.prefix(remembered.ids.count)) == remembered.ids
        {
            fold = remembered.fold
            start = remembered.ids.count
        }
        for input in history[start...] { fold.replay(input) }

        var step = Step()
        if envelope.kind == RunMessages.goal {
            if let reason = try await takeGoal(envelope, fold: &fold, step: &step, context: context) {
                return .dead(reason)
            }
        } else if fold.state != nil {
            if let reason = try await takeInput(envelope, state: &fold.state!, step: &step, layout: layout) {
                return .dead(reason)
            }
        } else if fold.draft != nil {
            step.draft = fold.draft!.apply(envelope)
        } else if envelope.kind == DeadLetterNotice.kind {
            // A dead letter of a run with no goal taken: nothing to end (dead-lettering the notice
            // would only leave a second dead letter).
            memory.remember(run: envelope.run, ids: ids + [envelope.id], fold: fold)
            return .ack([])
        } else {
            return .dead("run \(envelope.run) has no goal: a \(envelope.kind) cannot be placed")
        }

        var outputs: [Envelope] = []
        let model = PlannerModel(
            caller: context.agents, maxQuestions: context.settings.agents.maxQuestions, layout: layout,
            run: envelope.run, worker: context.worker, input: envelope)
        if let draft = fold.draft, fold.state == nil {
            for action in step.draft {
                switch try await perform(action, draft: draft, model: model, layout: layout) {
                case .drafted(let out): outputs += out
                case .deferred(let until, let reason): return .defer(until: until, reason: reason)
                }
            }
        }
        if let state = fold.state {
            if let call = step.specCall {
                let subject = PlannerModel.Subject(
                    text: state.plan.goal, repository: state.plan.repository, baseBranch: state.plan.baseBranch,
                    risk: state.plan.risk, goal: nil, plan: state.plan)
                switch try await model.draft(.spec, attempt: call.attempt, feedback: call.feedback, subject: subject) {
                case .drafted(let out): outputs.append(out)
                case .deferred(let until, let reason): return .defer(until: until, reason: reason)
                }
            }
            try RunFollowups.write(state, layout: layout)
            var dispatch = RunDispatch(state: state, input: envelope, goalID: fold.goalID!, worker: context.worker)
            dispatch.modelSpec = context.agents.isEnabled
            outputs += try await dispatch.envelopes(for: step.actions)
            try Self.writeStatus(state.json, run: state.run, layout: layout)
        } else if let draft = fold.draft {
            try Self.writeStatus(draft.json, run: draft.run, layout: layout)
        }
        memory.remember(run: envelope.run, ids: ids + [envelope.id], fold: fold)
        return .ack(outputs)
    }

    /// What handling one input decided.
    struct Step {
        var actions: [RunAction] = []
        var draft: [DraftAction] = []
        /// The model's tech spec to ask for (a plan with a spec stage, with an agent).
        var specCall: (attempt: Int, feedback: String?)?
    }

    /// Takes a goal: a submitted plan, a free-text goal, or the plan drafted for a free-text goal.
    /// - Returns: the reason to dead-letter it, or `nil`.
    func takeGoal(_ envelope: Envelope, fold: inout RunFold, step: inout Step, context: RoleContext) async throws
        -> String?
    {
        if GoalDraft.isFreeText(envelope) {
            if fold.state != nil || fold.draft != nil { return "run \(envelope.run) already has a goal" }
            guard context.agents.isEnabled else {
                return "a free-text goal needs a planner with an agent: set roles.planner.agent"
            }
            var draft: GoalDraft
            do {
                draft = try GoalDraft(goal: envelope)
            } catch {
                return error.message
            }
            draft.costLimits = fold.limits
            let git = Git(directory: draft.repository)
            guard await git.isWorkTree() else { return "\(draft.repository) is not a git repository" }
            guard await git.branchExists(draft.baseBranch) else {
                return "base_branch \(draft.baseBranch) is not a branch of \(draft.repository)"
            }
            step.draft = draft.start(maxQuestions: context.settings.agents.maxQuestions)
            fold.draft = draft
            return nil
        }
        if let from = envelope.body["from_goal"]?.stringValue {
            guard fold.state == nil, fold.draft?.goalID == from, fold.draft?.planText != nil else {
                return "run \(envelope.run) has no free-text goal \(from) waiting for this plan"
            }
            // The plan is the one the model's draft checked, with the goal's limits.
            guard let draft = fold.draft, envelope.body["plan_text"]?.stringValue == draft.planText,
                (envelope.body["allow_model_scope"] == .bool(true)) == draft.allowModelScope,
                ScopeLimit.requested(in: envelope.body) == draft.scope
            else {
                return "the plan goal of run \(envelope.run) is not the plan drafted and checked for goal \(from)"
            }
        } else if fold.state != nil || fold.draft != nil {
            return "run \(envelope.run) already has a goal"
        }
        var state: RunState
        do {
            state = try fold.start(envelope)
        } catch {
            return error.message
        }
        let unsupported = RunSupport.unsupported(state.plan, agents: context.settings.agents)
        if !unsupported.isEmpty { return "the plan cannot be run: " + unsupported.joined(separator: "; ") }
        let plan = state.plan
        guard await Git(directory: plan.repository).branchExists(plan.baseBranch) else {
            return "base_branch \(plan.baseBranch) is not a branch of \(plan.repository)"
        }
        try await Self.ensureIntegrationBranch(state)
        step.actions = state.start()
        fold.state = state
        fold.goalID = envelope.id
        return nil
    }

    /// Takes an input of a run that has its plan.
    /// - Returns: the reason to dead-letter it, or `nil`.
    func takeInput(_ envelope: Envelope, state: inout RunState, step: inout Step, layout: BusLayout) async throws
        -> String?
    {
        state.account(envelope)
        if envelope.kind == RunMessages.spec, envelope.body["writer"]?.stringValue == "model" {
            // The model writes the spec: its draft, not this envelope, ends the stage.
            if state.stage == .spec, state.halted == nil { step.specCall = (1, nil) }
            step.actions = state.settle()
            return nil
        }
        if envelope.kind == GoalDraft.kind {
            let draft = Draft(envelope)
            if draft.purpose == .spec, state.stage == .spec, state.halted == nil {
                if draft.error == nil {
                    try Self.write(draft.text, to: "SPEC.md", run: state.run, layout: layout)
                } else if !draft.isLastTry {
                    step.specCall = (draft.attempt + 1, draft.error)
                }
            }
            step.actions = RunInput(envelope).map { state.apply($0) } ?? state.settle()
            return nil
        }
        if envelope.kind == RunMessages.documented, envelope.task == nil, envelope.body["handoff"] != nil {
            // The handoff of the finished run, written with a model: only its usage counts (above).
            return nil
        }
        guard let input = RunInput(envelope) else {
            return "\(envelope.kind) envelope \(envelope.id) lacks the fields its kind needs (docs/RUN.md)"
        }
        if case .stageDone(let stage) = input, state.stage == stage {
            try await Self.writeDocument(stage, state: state, layout: layout)
        }
        step.actions = state.apply(input)
        return nil
    }

    /// Carries out one action of a free-text goal's draft.
    func perform(_ action: DraftAction, draft: GoalDraft, model: PlannerModel, layout: BusLayout) async throws
        -> PerformOutcome
    {
        switch action {
        case .call(let purpose, let attempt, let feedback):
            let subject = PlannerModel.Subject(
                text: draft.text, repository: draft.repository, baseBranch: draft.baseBranch, risk: draft.risk,
                goal: draft, plan: nil)
            switch try await model.draft(purpose, attempt: attempt, feedback: feedback, subject: subject) {
            case .drafted(let out): return .drafted([out])
            case .deferred(let until, let reason): return .deferred(until: until, reason: reason)
            }
        case .skipQuestions(let reason):
            return .drafted([model.noQuestions(because: reason)])
        case .ask(let questions):
            let count = questions.count
            return .drafted(
                questions.enumerated().map { index, question in
                    Envelope(
                        id: question.id, run: draft.run, kind: RunMessages.question, from: model.worker,
                        to: RunMessages.human, causation: model.input.id,
                        body: [
                            "question": .string(question.text), "topic": .string("intent of the goal"),
                            "reply_to": "planner",
                            "summary": .string(
                                "before planning, question \(index + 1) of \(count): "
                                    + (question.text.split(separator: "\n").first.map(String.init) ?? "")),
                        ])
                })
        case .writeIntent:
            try Self.write(draft.intentMarkdown, to: "INTENT.md", run: draft.run, layout: layout)
            return .drafted([])
        case .writeSpec(let text):
            try Self.write(text, to: "SPEC.md", run: draft.run, layout: layout)
            return .drafted([])
        case .plan(let text):
            let folder = layout.run(draft.run)
            try Self.write(text, to: "plan.yaml", run: draft.run, layout: layout)
            var body: [String: JSONValue] = [
                "plan_file": .string(folder + "/plan.yaml"), "plan_text": .string(text),
                "from_goal": .string(draft.goalID), "spec": .string(folder + "/SPEC.md"),
                "summary": .string("the plan drafted for the goal: " + String(draft.text.prefix(80))),
            ]
            body.merge(draft.scopeFields) { _, new in new }
            if FileManager.default.fileExists(atPath: folder + "/INTENT.md") {
                body["intent"] = .string(folder + "/INTENT.md")
            }
            return .drafted([
                Envelope(
                    id: RunMessages.derivedID(from: draft.goalID, "goal-plan"), run: draft.run, kind: RunMessages.goal,
                    from: model.worker, to: "planner", causation: model.input.id, body: body)
            ])
        }
    }

    /// What an action of a draft came to.
    enum PerformOutcome {
        case drafted([Envelope])
        case deferred(until: Timestamp, reason: String)
    }

    /// Writes `text` to the file `name` of the run folder.
    static func write(_ text: String, to name: String, run: String, layout: BusLayout) throws {
        let folder = layout.run(run)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }

    /// Makes the run's integration branch from the plan's base branch, unless it exists.
    static func ensureIntegrationBranch(_ state: RunState) async throws(RoleError) {
        let git = Git(directory: state.plan.repository)
        let branch = RunMessages.integrationBranch(state.run)
        if !(await git.branchExists(branch)) { try await git.createBranch(branch, at: state.plan.baseBranch) }
    }

    /// Writes the document of a stage: `DISCOVERY.md` or `SPEC.md` in the run folder.
    static func writeDocument(_ stage: RunStage, state: RunState, layout: BusLayout) async throws {
        let folder = layout.run(state.run)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let head = RunMessages.integrationBranch(state.run)
        switch stage {
        case .discovery:
            let text = try await Discovery(plan: state.plan, ref: head).markdown()
            try text.write(toFile: folder + "/DISCOVERY.md", atomically: true, encoding: .utf8)
        case .spec:
            let text = try await TechSpec(plan: state.plan, ref: head).markdown()
            try text.write(toFile: folder + "/SPEC.md", atomically: true, encoding: .utf8)
        default:
            return
        }
    }

    static func writeStatus(_ json: JSONValue, run: String, layout: BusLayout) throws {
        let folder = layout.run(run)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let data = Data((json.serialized() + "\n").utf8)
        try data.write(to: URL(fileURLWithPath: folder + "/status.json"), options: .atomic)
    }
}
