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
        // Resume from the state this process folded last time when the history still starts with
        // the inputs it was folded from; otherwise fold from the start.
        let ids = history.map(\.id)
        let remembered = memory.fold(run: envelope.run)
        var state: RunState?
        var goalID: String?
        var start = 0
        if let remembered, remembered.ids.count <= ids.count, Array(ids.prefix(remembered.ids.count)) == remembered.ids
        {
            state = remembered.state
            goalID = remembered.goalID
            start = remembered.ids.count
        }
        for input in history[start...] {
            if input.kind == RunMessages.goal {
                if state == nil, var fresh = try? Self.start(input) {
                    _ = fresh.start()
                    state = fresh
                    goalID = input.id
                }
            } else if state != nil, let parsed = RunInput(input) {
                _ = state!.apply(parsed)
            }
        }
        var actions: [RunAction]
        if envelope.kind == RunMessages.goal {
            if state != nil { return .dead("run \(envelope.run) already has a goal") }
            do {
                state = try Self.start(envelope)
            } catch {
                return .dead(error.message)
            }
            let unsupported = RunSupport.unsupported(state!.plan, agents: context.settings.agents)
            if !unsupported.isEmpty { return .dead("the plan cannot be run: " + unsupported.joined(separator: "; ")) }
            goalID = envelope.id
            let plan = state!.plan
            guard await Git(directory: plan.repository).branchExists(plan.baseBranch) else {
                return .dead("base_branch \(plan.baseBranch) is not a branch of \(plan.repository)")
            }
            try await Self.ensureIntegrationBranch(state!)
            actions = state!.start()
        } else {
            guard state != nil, goalID != nil else {
                return .dead("run \(envelope.run) has no goal: a \(envelope.kind) cannot be placed")
            }
            guard let input = RunInput(envelope) else {
                return .dead("\(envelope.kind) envelope \(envelope.id) lacks the fields its kind needs (docs/RUN.md)")
            }
            if case .stageDone(let stage) = input, state!.stage == stage {
                try await Self.writeDocument(stage, state: state!, layout: layout)
            }
            actions = state!.apply(input)
        }
        let outputs = try await RunDispatch(
            state: state!, input: envelope, goalID: goalID!, worker: context.worker
        ).envelopes(for: actions)
        try Self.writeStatus(state!, layout: layout)
        memory.remember(run: envelope.run, ids: ids + [envelope.id], state: state!, goalID: goalID!)
        return .ack(outputs)
    }

    /// A run's state from its goal.
    static func start(_ goal: Envelope) throws(RoleError) -> RunState {
        guard let text = goal.body["plan_text"]?.stringValue, let file = goal.body["plan_file"]?.stringValue else {
            throw RoleError(.invalidRequest, "goal \(goal.id): \"plan_text\" and \"plan_file\" are required")
        }
        return RunState(run: goal.run, plan: try PlanLoader.parse(text, file: file))
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

    static func writeStatus(_ state: RunState, layout: BusLayout) throws {
        let folder = layout.run(state.run)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let data = Data((state.json.serialized() + "\n").utf8)
        try data.write(to: URL(fileURLWithPath: folder + "/status.json"), options: .atomic)
    }
}
