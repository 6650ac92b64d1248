import Bus
import Foundation

/// The planner: turns a `goal` into builds, and each `verdict` into the next builds, until every
/// task is integrated, failed or blocked.
///
/// Its state is not kept in memory between envelopes: for every input it folds the run's earlier
/// inputs (``RunHistory``) into a ``RunState``, applies the new one, and answers with the builds
/// ``RunState/release()`` decides, whose ids derive from the input's. It writes the state to
/// `runs/<run>/status.json` for `planbus status`.
public struct PlannerRole: Role {
    public init() {}

    public var kinds: Set<String> { [RunMessages.goal, RunMessages.verdict] }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let envelope = claim.envelope
        let layout = context.bus.layout
        var state: RunState?
        let history = RunHistory(layout: layout, run: envelope.run).inputs().filter { $0.id != envelope.id }
        for input in history {
            Self.apply(input, to: &state)
        }
        if envelope.kind == RunMessages.goal, state != nil {
            return .dead("run \(envelope.run) already has a goal")
        }
        if envelope.kind == RunMessages.goal {
            do {
                state = try Self.start(envelope)
            } catch {
                return .dead(error.message)
            }
            let unsupported = RunSupport.unsupported(state!.plan)
            if !unsupported.isEmpty { return .dead("the plan cannot be run: " + unsupported.joined(separator: "; ")) }
        }
        guard state != nil else { return .dead("run \(envelope.run) has no goal: a verdict cannot be placed") }
        if envelope.kind == RunMessages.verdict { Self.applyVerdict(envelope, to: &state!) }
        let releases = state!.release()

        let plan = state!.plan
        let git = Git(directory: plan.repository)
        let branch = RunMessages.integrationBranch(envelope.run)
        if !(await git.branchExists(branch)) { try await git.createBranch(branch, at: plan.baseBranch) }
        let base = try await git.commit(of: branch)
        var outputs: [Envelope] = []
        for release in releases {
            guard let task = plan.task(release.task) else { continue }
            var body: [String: JSONValue] = [
                "repository": .string(plan.repository), "base": .string(base),
                "attempt": .number(Double(release.attempt)),
                "candidate": 1, "title": .string(task.title), "prompt": .string(task.prompt),
                "scope": .array(task.scope.map(JSONValue.string)),
            ]
            if let step = task.run { body["step"] = .string(step) }
            if let feedback = release.feedback { body["feedback"] = .string(feedback) }
            outputs.append(
                Envelope(
                    id: RunMessages.derivedID(from: envelope.id, "build-\(task.id)-\(release.attempt)"),
                    run: envelope.run, task: task.id, kind: RunMessages.build, from: context.worker, to: "builder",
                    causation: envelope.id, attempt: release.attempt, body: body))
        }
        try Self.writeStatus(state!, layout: layout)
        if state!.isFinished {
            // Its id derives from the goal's, so however many inputs find the run finished, the
            // docs role hears it once.
            let goalID = envelope.kind == RunMessages.goal ? envelope.id : (history.first?.id ?? envelope.id)
            outputs.append(
                Envelope(
                    id: RunMessages.derivedID(from: goalID, "finished"), run: envelope.run,
                    kind: RunMessages.runFinished,
                    from: context.worker, to: "docs", causation: envelope.id,
                    body: [
                        "halted": state!.halted.map(JSONValue.string) ?? .null,
                        "summary": .string(state!.halted.map { "run halted: \($0)" } ?? "run finished"),
                    ]))
        }
        return .ack(outputs)
    }

    /// A run's state from its goal.
    static func start(_ goal: Envelope) throws(RoleError) -> RunState {
        guard let text = goal.body["plan_text"]?.stringValue, let file = goal.body["plan_file"]?.stringValue else {
            throw RoleError(.invalidRequest, "goal \(goal.id): \"plan_text\" and \"plan_file\" are required")
        }
        return RunState(run: goal.run, plan: try PlanLoader.parse(text, file: file))
    }

    /// Folds one earlier input into `state`, with the builds it released.
    static func apply(_ input: Envelope, to state: inout RunState?) {
        switch input.kind {
        case RunMessages.goal:
            if state == nil, var fresh = try? start(input) {
                _ = fresh.release()
                state = fresh
            }
        case RunMessages.verdict:
            guard state != nil else { return }
            applyVerdict(input, to: &state!)
            _ = state!.release()
        default:
            return
        }
    }

    /// Applies one verdict (without releasing builds).
    static func applyVerdict(_ verdict: Envelope, to state: inout RunState) {
        guard let task = verdict.task, let attempt = verdict.body["attempt"]?.intValue else { return }
        state.apply(
            verdictOn: task, attempt: attempt, approved: verdict.body["approved"] == .bool(true),
            integrated: verdict.body["integrated"]?.stringValue, feedback: verdict.body["feedback"]?.stringValue ?? "")
    }

    static func writeStatus(_ state: RunState, layout: BusLayout) throws {
        let folder = layout.run(state.run)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let data = Data((state.json.serialized() + "\n").utf8)
        try data.write(to: URL(fileURLWithPath: folder + "/status.json"), options: .atomic)
    }
}
