import Bus

extension RunState {
    /// The state as `runs/<run>/status.json` holds it: `run`, `plan`, `risk`, `stage`, `finished`,
    /// `halted`, `waiting`, `preflight` and `smoke` (each `passed` and `summary`, or `null` while
    /// not run), `spent` (`attempts`, `files`, `lines`), and `tasks`: each task's ``TaskStatus``
    /// fields with its `id`, `title`, `last_feedback`, `question` (while asking: `id`, `text`),
    /// `judgment`, `decision` and `documented`. A building task with a question waiting for a
    /// person shows the state `asking`; a task still waiting when the run finished shows
    /// `not_started`. With agents: `cost_usd` and `cost_usd_by_role` once a usage record was folded,
    /// `intent` and `spec` (the files written before the plan), each follow-up task's
    /// `followup_of`, and `followups_dropped`. Once the planner took a dead letter of the run:
    /// `dead_letters`, each ``DeadLetterOutcome``.
    public var json: JSONValue {
        func check(_ result: CheckResult?) -> JSONValue {
            guard let result else { return .null }
            return ["passed": .bool(result.passed), "summary": .string(result.summary)]
        }
        var o: [String: JSONValue] = [
            "run": .string(run), "plan": .string(plan.name), "risk": .string(plan.risk.rawValue),
            "stage": .string(stage.rawValue), "finished": .bool(isFinished),
            "halted": halted.map(JSONValue.string) ?? .null,
            "waiting": waitingOnPeople.map(JSONValue.string) ?? .null,
            "preflight": check(preflight), "smoke": check(smoke),
            "spent": [
                "attempts": .number(Double(spent.attempts)), "files": .number(Double(spent.files)),
                "lines": .number(Double(spent.lines)),
            ],
            "tasks": .array(plan.tasks.map(taskJSON)),
        ]
        if cost.records > 0 { o.merge(cost.json) { _, new in new } }
        if let intent { o["intent"] = .string(intent) }
        if let writtenSpec { o["spec"] = .string(writtenSpec) }
        if !deadLetters.isEmpty { o["dead_letters"] = .array(deadLetters.map(\.json)) }
        if !droppedFollowups.isEmpty { o["followups_dropped"] = .array(droppedFollowups.map(JSONValue.string)) }
        return .object(o)
    }

    private func taskJSON(_ task: PlanTask) -> JSONValue {
        let status = tasks[task.id] ?? .waiting
        var o = status.json.objectValue ?? [:]
        // A task still waiting when the run has finished (halted) will not start.
        if isFinished, status == .waiting { o["state"] = "not_started" }
        o["id"] = .string(task.id)
        o["title"] = .string(task.title)
        if let question = questions[task.id]?.sorted(by: { $0.key < $1.key }).first?.value {
            o["state"] = "asking"
            o["question"] = ["id": .string(question.id), "text": .string(question.text)]
        }
        if let f = feedback[task.id] { o["last_feedback"] = .string(f) }
        if let j = judgments[task.id] { o["judgment"] = .string(j) }
        if let d = decisions[task.id] { o["decision"] = .string(d) }
        if case .integrated = status { o["documented"] = .bool(documented.contains(task.id)) }
        if let origin = followupOf[task.id] { o["followup_of"] = .string(origin) }
        return .object(o)
    }
}
