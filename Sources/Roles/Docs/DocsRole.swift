import Bus
import Foundation

/// The docs role: writes each integrated task's changelog entry on the run's integration branch,
/// and, when the run finishes, its handoff.
///
/// For `changelog` it adds the task's line to `CHANGELOG.md` on the integration branch
/// (``Changelog``, committed by compare-and-swap through ``IntegrationBranch``; an entry already
/// there is not written again, and one this process wrote with another envelope's is answered
/// from memory, ``WrittenEntries``) and answers the planner with `documented`.
///
/// For `run_finished` it writes `runs/<run>/HANDOFF.md` and `HANDOFF.html` (one self-contained
/// file), and `next-plan.yaml` for what is left. It reads everything from the bus: the plan from
/// the run's goal, each task's state from `status.json`, each task's last verdict (gates,
/// evidence, commit) from `q/planner/done/`, and the time each task took from the run's journal.
public struct DocsRole: Role {
    /// The waiting `changelog` envelopes this process has read.
    let queued = EnvelopeCache()
    /// The changelog entries this process knows are written.
    let written = WrittenEntries()

    public init() {}

    public var kinds: Set<String> { [RunMessages.runFinished, RunMessages.changelog] }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        if claim.envelope.kind == RunMessages.changelog { return try await changelog(claim, context: context) }
        let run = claim.envelope.run
        let layout = context.bus.layout
        // The run's plan with the follow-up tasks the planner added.
        guard let plan = try? RunMessages.plan(of: run, layout: layout) else {
            return .dead("run \(run) has no goal with a plan that loads")
        }
        let folder = layout.run(run)
        guard let data = FileManager.default.contents(atPath: folder + "/status.json"),
            let status = try? JSONValue.parse(Array(data))
        else { return .retry("runs/\(run)/status.json cannot be read yet") }

        var states: [String: JSONValue] = [:]
        for t in status["tasks"]?.arrayValue ?? [] { if let id = t["id"]?.stringValue { states[id] = t } }
        let verdicts = Self.lastVerdicts(run: run, layout: layout)
        var answers: [String: [String]] = [:]
        for answer in RunMessages.taken(by: "planner", run: run, kinds: [RunMessages.answer], layout: layout)
            .sorted(by: { $0.id < $1.id })
        {
            guard let task = answer.task else { continue }
            answers[task, default: []].append(
                "question: \(answer.body["question"]?.stringValue ?? "?")\nanswer (\(answer.body["by"]?.stringValue ?? "?")): "
                    + (answer.body["answer"]?.stringValue ?? ""))
        }
        let times = TaskTimes(run: run, layout: layout)
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
            let elapsed = times.elapsed(task.id, settled: true)
            return Handoff.TaskReport(
                task: task, state: s?["state"]?.stringValue ?? "waiting",
                attempts: (s?["attempts"] ?? s?["attempt"])?.intValue, commit: s?["commit"]?.stringValue,
                reason: s?["reason"]?.stringValue, blockedBy: s?["by"]?.stringValue, gates: gates,
                evidence: v?["evidence"]?.stringValue, diff: nil, elapsed: elapsed,
                notes: Self.notes(s, answers: answers[task.id] ?? []))
        }
        // The size of each shipped change: its integration merge against the merge's first parent.
        let git = Git(directory: plan.repository)
        var reportsWithDiff = reports
        for index in reportsWithDiff.indices {
            guard let merge = reportsWithDiff[index].commit,
                let diff = try? await git.diff(from: merge + "^1", to: merge)
            else { continue }
            reportsWithDiff[index].diff =
                "\(CheckText.count(diff.files.count, "file")), +\(diff.insertions) -\(diff.deletions)"
        }
        var handoff = Handoff(
            run: run, plan: plan, halted: status["halted"]?.stringValue, tasks: reportsWithDiff, nextPlan: nil,
            nextPlanFile: nil)
        for stage in ["preflight", "smoke"] {
            if let check = status[stage], case .bool(let passed)? = check["passed"] {
                handoff.checks.append(
                    "\(stage) gates \(passed ? "passed" : "FAILED"): \(check["summary"]?.stringValue ?? "")"
                        + " (logs: `\(folder)/\(stage)/`)")
            } else if stage == "smoke", !plan.smoke.isEmpty {
                handoff.checks.append("smoke gates not run: nothing was integrated, or the run was halted")
            }
        }
        handoff.documents = ["DISCOVERY.md", "SPEC.md"].map { folder + "/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0) }
        let usage = RunUsage(bus: context.bus, runs: [run])
        handoff.usage = usage.groups(by: .role)
        handoff.usageTotal = usage.total
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
        var records: [JSONValue] = []
        if context.agents.isEnabled {
            // The model writes the summary over the facts; the facts stay as they are.
            let written = try await DocsProse(context: context).write(
                "handoff", ["run": run, "goal": plan.goal, "facts": handoff.markdown], run: run,
                transcript: folder + "/handoff.log", repository: plan.repository)
            if let until = written.limitedUntil {
                return .defer(until: until, reason: "the docs agent is rate-limited: the handoff waits")
            }
            handoff.summary =
                written.prose
                ?? "Not written: the docs agent failed (\(written.failure ?? "?")); the facts below stand."
            records += written.usage.map { [$0] } ?? []
            // This call's cost belongs in the handoff's own figures.
            if let record = written.usage, let call = RunUsage.call(from: record, envelope: claim.envelope) {
                let all = RunUsage(calls: usage.calls + [call])
                handoff.usage = all.groups(by: .role)
                handoff.usageTotal = all.total
            }
        }
        try handoff.markdown.write(toFile: folder + "/HANDOFF.md", atomically: true, encoding: .utf8)
        try handoff.html.write(toFile: folder + "/HANDOFF.html", atomically: true, encoding: .utf8)
        guard !records.isEmpty else { return .ack([]) }
        // The summary's usage, on the bus like every agent call's (the run is finished: the planner
        // only records it).
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: claim.envelope.id, "documented-handoff"), run: run,
                kind: RunMessages.documented, from: context.worker, to: "planner", causation: claim.envelope.id,
                body: [
                    "handoff": .string(folder + "/HANDOFF.md"), "usage": .array(records),
                    "summary": .string("handoff of \(run) written with a summary by \(context.settings.agent)"),
                ])
        ])
    }

    /// `changelog`: the task's entry on the integration branch, then `documented` to the planner.
    ///
    /// The entries of the run's other `changelog` envelopes already waiting in the queue go into
    /// the same commit (in id order, which is the order they were sent); when their turn comes,
    /// their entries are there, and they are answered without a commit. So a burst of
    /// integrations costs one changelog commit, not one each.
    private func changelog(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let request = claim.envelope
        guard let task = request.task, let repository = request.body["repository"]?.stringValue,
            let commit = request.body["commit"]?.stringValue
        else { return .dead("changelog envelope \(request.id) needs a task, a repository and a commit") }
        if written.contains(run: request.run, repository: repository, task: task, commit: commit) {
            // Committed with an earlier envelope's entries: nothing to read or write.
            return documented(request, task: task, commit: nil, records: [], failures: [], context: context)
        }
        let waiting = waitingChangelogs(run: request.run, repository: repository, layout: context.bus.layout)
        let entries = [request] + waiting.filter { $0.id != request.id }.sorted { $0.id < $1.id }
        let titles = entries.compactMap { $0.task }.joined(separator: ", ")
        var changelogEntries: [Changelog.Entry] = entries.compactMap { e in
            guard let id = e.task, let commit = e.body["commit"]?.stringValue else { return nil }
            return Changelog.Entry(
                task: id, title: e.body["title"]?.stringValue ?? id, attempts: e.attempt, commit: commit)
        }
        var records: [JSONValue] = []
        var failures: [String] = []
        if context.agents.isEnabled {
            let prose = DocsProse(context: context)
            for index in changelogEntries.indices {
                let entry = changelogEntries[index]
                let drafted = try await prose.changelog(
                    run: request.run, task: entry.task, title: entry.title, attempt: entry.attempts,
                    commit: entry.commit, repository: repository)
                if let until = drafted.limitedUntil {
                    return .defer(until: until, reason: "the docs agent is rate-limited: the changelog waits")
                }
                changelogEntries[index].prose = drafted.prose
                if let failure = drafted.failure { failures.append("\(entry.task): \(failure)") }
                records += drafted.usage.map { [$0] } ?? []
            }
        }
        let branch = IntegrationBranch(run: request.run, git: Git(directory: repository))
        let made = try await branch.commitFile(
            Changelog.path,
            message: "Changelog: \(titles)\n\nPlanbus-Run: \(request.run)\nPlanbus-Task: \(task)"
        ) { text in
            Changelog.adding(
                changelogEntries, to: text, run: request.run, plan: request.body["plan"]?.stringValue ?? "plan")
        }
        written.insert(changelogEntries, run: request.run, repository: repository)
        return documented(request, task: task, commit: made, records: records, failures: failures, context: context)
    }

    /// The `documented` answer to a `changelog` envelope: the commit that wrote its entry, or
    /// none when it was already written.
    private func documented(
        _ request: Envelope, task: String, commit: String?, records: [JSONValue], failures: [String],
        context: RoleContext
    ) -> Disposition {
        var body: [String: JSONValue] = [
            "commit": commit.map(JSONValue.string) ?? .null, "path": .string(Changelog.path),
            "summary": .string(
                commit.map { "changelog entry of \(task) committed as \($0.prefix(12))" }
                    ?? "changelog entry of \(task) was already written"),
        ]
        if !records.isEmpty { body["usage"] = .array(records) }
        if !failures.isEmpty { body["prose_failures"] = .array(failures.map(JSONValue.string)) }
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: request.id, "documented-\(task)"), run: request.run, task: task,
                kind: RunMessages.documented, from: context.worker, to: "planner", causation: request.id,
                attempt: request.attempt, body: body)
        ])
    }

    /// The `changelog` envelopes of `run` for `repository` waiting in the docs queue (read, not
    /// claimed; one that cannot be read is left out; each file is read once per process).
    func waitingChangelogs(run: String, repository: String, layout: BusLayout) -> [Envelope] {
        queued.envelopes(in: layout.new("docs")).filter {
            $0.kind == RunMessages.changelog && $0.run == run && $0.body["repository"]?.stringValue == repository
        }
    }

    /// The judge's reasons, a person's decision, and the questions answered, for one task.
    static func notes(_ status: JSONValue?, answers: [String]) -> [String] {
        var notes: [String] = []
        if let judgment = status?["judgment"]?.stringValue { notes.append("judged: " + judgment) }
        if let decision = status?["decision"]?.stringValue { notes.append(decision) }
        return notes + answers
    }

    /// The last verdict of each task of the run, by task id: of its last attempt, the one that
    /// integrated when there is one (a competition's winner), else any.
    static func lastVerdicts(run: String, layout: BusLayout) -> [String: JSONValue] {
        var out: [String: (attempt: Int, integrated: Bool, body: JSONValue)] = [:]
        for envelope in RunMessages.taken(by: "planner", run: run, kinds: [RunMessages.verdict], layout: layout) {
            guard let task = envelope.task else { continue }
            let attempt = envelope.body["attempt"]?.intValue ?? 0
            // Of one attempt's verdicts (one per candidate, then the winner's integration), the
            // one that integrated speaks for the task.
            let integrated = envelope.body["integrated"]?.stringValue != nil
            if let kept = out[task],
                kept.attempt > attempt || (kept.attempt == attempt && (kept.integrated || !integrated))
            {
                continue
            }
            out[task] = (attempt, integrated, .object(envelope.body))
        }
        return out.mapValues(\.body)
    }
}
