import Bus
import Foundation

/// The docs role: when a run finishes, writes its handoff, `runs/<run>/HANDOFF.md` and
/// `HANDOFF.html` (one self-contained file), and `next-plan.yaml` for what is left.
///
/// It reads everything from the bus: the plan from the run's goal, each task's state from
/// `status.json`, each task's last verdict (gates, evidence, commit) from `q/planner/done/`, and
/// the time each task took from the run's journal.
public struct DocsRole: Role {
    public init() {}

    public var kinds: Set<String> { [RunMessages.runFinished] }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let run = claim.envelope.run
        let layout = context.bus.layout
        guard let goal = RunMessages.goal(of: run, layout: layout),
            let text = goal.body["plan_text"]?.stringValue, let file = goal.body["plan_file"]?.stringValue,
            let plan = try? PlanLoader.parse(text, file: file)
        else { return .dead("run \(run) has no goal with a plan that loads") }
        let folder = layout.run(run)
        guard let data = FileManager.default.contents(atPath: folder + "/status.json"),
            let status = try? JSONValue.parse(Array(data))
        else { return .retry("runs/\(run)/status.json cannot be read yet") }

        var states: [String: JSONValue] = [:]
        for t in status["tasks"]?.arrayValue ?? [] { if let id = t["id"]?.stringValue { states[id] = t } }
        let verdicts = Self.lastVerdicts(run: run, layout: layout)
        var first: [String: Timestamp] = [:]
        var last: [String: Timestamp] = [:]
        for event in JournalReader(layout: layout).events(run: run) {
            guard let task = event.task else { continue }
            if first[task] == nil || event.time.milliseconds < first[task]!.milliseconds { first[task] = event.time }
            if last[task] == nil || event.time.milliseconds > last[task]!.milliseconds { last[task] = event.time }
        }
        let reports = plan.tasks.map { task -> Handoff.TaskReport in
            let s = states[task.id]
            let v = verdicts[task.id]
            let gates = (v?["gates"]?.arrayValue ?? []).map { g in
                (
                    name: g["name"]?.stringValue ?? "?",
                    outcome: g["outcome"]?.stringValue ?? (g["passed"] == .bool(true) ? "passed" : "failed"),
                    log: g["log"]?.stringValue ?? ""
                )
            }
            let elapsed: Duration? = first[task.id].flatMap { f in
                last[task.id].map { .milliseconds($0.milliseconds - f.milliseconds) }
            }
            return Handoff.TaskReport(
                task: task, state: s?["state"]?.stringValue ?? "waiting",
                attempts: (s?["attempts"] ?? s?["attempt"])?.intValue, commit: s?["commit"]?.stringValue,
                reason: s?["reason"]?.stringValue, blockedBy: s?["by"]?.stringValue, gates: gates,
                evidence: v?["evidence"]?.stringValue, diff: nil, elapsed: elapsed)
        }
        // The size of each shipped change: its integration merge against the merge's first parent.
        let git = Git(directory: plan.repository)
        var reportsWithDiff = reports
        for index in reportsWithDiff.indices {
            guard let merge = reportsWithDiff[index].commit,
                let diff = try? await git.diff(from: merge + "^1", to: merge)
            else { continue }
            reportsWithDiff[index].diff = "\(diff.files.count) files, +\(diff.insertions) -\(diff.deletions)"
        }
        var handoff = Handoff(
            run: run, plan: plan, halted: status["halted"]?.stringValue, tasks: reportsWithDiff, nextPlan: nil,
            nextPlanFile: nil)
        let remaining = plan.tasks.filter { states[$0.id]?["state"]?.stringValue != "integrated" }
        if !remaining.isEmpty {
            let path = folder + "/next-plan.yaml"
            let yaml = PlanWriter.yaml(
                plan, tasks: remaining, baseBranch: RunMessages.integrationBranch(run), name: plan.name + "-next",
                goal: plan.goal)
            // Only a plan that loads is offered as one.
            if (try? PlanLoader.parse(yaml, file: path)) != nil {
                try yaml.write(toFile: path, atomically: true, encoding: .utf8)
                handoff.nextPlan = yaml
                handoff.nextPlanFile = path
            }
        }
        try handoff.markdown.write(toFile: folder + "/HANDOFF.md", atomically: true, encoding: .utf8)
        try handoff.html.write(toFile: folder + "/HANDOFF.html", atomically: true, encoding: .utf8)
        return .ack([])
    }

    /// The last verdict of each task of the run, by task id.
    static func lastVerdicts(run: String, layout: BusLayout) -> [String: JSONValue] {
        var out: [String: (attempt: Int, body: JSONValue)] = [:]
        for envelope in RunMessages.taken(by: "planner", run: run, kinds: [RunMessages.verdict], layout: layout) {
            guard let task = envelope.task else { continue }
            let attempt = envelope.body["attempt"]?.intValue ?? 0
            if (out[task]?.attempt ?? -1) < attempt { out[task] = (attempt, .object(envelope.body)) }
        }
        return out.mapValues(\.body)
    }
}
