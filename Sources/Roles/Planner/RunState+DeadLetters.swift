import Bus

/// A dead letter of a run, as the planner took it, and what it did to the run.
public struct DeadLetterOutcome: Sendable, Equatable {
    /// What the dead letter did.
    public enum Effect: String, Sendable, Equatable {
        /// The task's attempt counted as rejected, and the task is built again.
        case retried
        /// The candidate counted as rejected; the attempt waits for its other candidates.
        case recorded
        /// The task's last allowed attempt counted as rejected: the task failed.
        case taskFailed = "task_failed"
        /// The run halted: it releases nothing more and ends when its work in flight is back.
        case runHalted = "run_halted"
        /// The smoke gates count as failed.
        case smokeFailed = "smoke_failed"
        /// Nothing waited on it (an attempt no longer in progress, a stage already passed).
        case ignored
    }

    public var notice: DeadLetterNotice
    public var effect: Effect
    /// The effect in words.
    public var outcome: String

    /// The outcome as `status.json` lists it under `dead_letters`: `id`, `kind`, `role`, `file`,
    /// `task`, `attempt`, `candidate`, `reason`, `effect` and `outcome`.
    public var json: JSONValue {
        let n = notice
        return [
            "id": .string(n.id), "kind": .string(n.kind), "role": .string(n.role), "file": .string(n.file),
            "task": n.task.map(JSONValue.string) ?? .null,
            "attempt": n.attempt.map { .number(Double($0)) } ?? .null,
            "candidate": n.candidate.map { .number(Double($0)) } ?? .null, "reason": .string(n.reason),
            "effect": .string(effect.rawValue), "outcome": .string(outcome),
        ]
    }
}

extension RunState {
    /// A dead-lettered envelope of the run.
    ///
    /// One of a task's attempt in progress (a build, a built change, a verdict, a question, a
    /// judgment or a decision, an approval, an integration) counts as that attempt (or candidate)
    /// rejected with the dead letter as feedback: retried while attempts remain, else the task
    /// fails, as a rejection would. A dead changelog of an integrated task, a dead `check` of the
    /// preflight gates, a dead document stage in progress, and any other envelope of the run that
    /// belongs to no task halt the run with the dead letter as the reason; a dead `check` of the
    /// smoke gates makes them count as failed. One that nothing waits on changes nothing. The
    /// same letter taken twice is acted on once.
    mutating func deadLettered(_ notice: DeadLetterNotice) -> [RunAction] {
        guard !deadLetters.contains(where: { $0.notice.id == notice.id && $0.notice.role == notice.role }) else {
            return []
        }
        var record = DeadLetterOutcome(notice: notice, effect: .ignored, outcome: "")
        let text = notice.description
        var out: [RunAction] = []
        if let id = notice.task {
            (out, record.effect, record.outcome) = deadLettered(notice, task: id, text: text)
        } else {
            (record.effect, record.outcome) = deadLetteredOutsideTasks(notice, text: text)
        }
        deadLetters.append(record)
        return out
    }

    /// A dead letter of task `id`.
    private mutating func deadLettered(_ notice: DeadLetterNotice, task id: String, text: String) -> (
        [RunAction], DeadLetterOutcome.Effect, String
    ) {
        guard let status = tasks[id] else { return ([], .ignored, "the run has no task \(id)") }
        if case .integrated = status, notice.kind == RunMessages.changelog {
            guard !documented.contains(id) else { return ([], .ignored, "the changelog of \(id) is written") }
            lostChangelogs.insert(id)
            halt(text)
            return ([], .runHalted, "the run halted: the changelog entry of \(id) cannot be written")
        }
        guard let current = status.attempt, current == notice.attempt ?? current else {
            return ([], .ignored, "task \(id) is \(status.word)\(status.attempt.map { " (attempt \($0))" } ?? "")")
        }
        let out: [RunAction]
        if case .building = status {
            // One candidate's build, change, verdict or question: that candidate is rejected.
            let candidate = notice.candidate ?? 1
            if candidates[id]?[candidate] != nil {
                return ([], .ignored, "candidate \(candidate) of task \(id) was verified already")
            }
            questions[id]?[candidate] = nil
            if questions[id]?.isEmpty == true { questions[id] = nil }
            out = apply(
                RunInput.Verdict(
                    task: id, attempt: current, candidate: candidate, approved: false, integrated: nil,
                    feedback: text,
                    body: [
                        "attempt": .number(Double(current)), "candidate": .number(Double(candidate)),
                        "approved": false, "verdict": "rejected", "commit": .null, "feedback": .string(text),
                        "dead_letter": .string(notice.id),
                    ]))
        } else {
            out = reject(id, attempt: current, feedback: text)
        }
        switch tasks[id] {
        case .failed: return (out, .taskFailed, "task \(id) failed")
        case let after? where (after.attempt ?? 0) > current:
            return (out, .retried, "task \(id) is built again (attempt \(after.attempt!))")
        default:
            return (out, .recorded, "candidate \(notice.candidate ?? 1) of task \(id) counts as rejected")
        }
    }

    /// A dead letter that belongs to no task.
    private mutating func deadLetteredOutsideTasks(_ notice: DeadLetterNotice, text: String) -> (
        DeadLetterOutcome.Effect, String
    ) {
        switch notice.kind {
        case RunMessages.check:
            let checked = notice.stage.flatMap(RunStage.init(rawValue:))
            guard let checked, checked == stage else {
                return (.ignored, "the run is past the \(notice.stage ?? "?") gates")
            }
            if checked == .smoke {
                smoke = CheckResult(passed: false, summary: text)
                return (.smokeFailed, "the smoke gates count as failed")
            }
            preflight = CheckResult(passed: false, summary: text)
            halt("preflight failed: " + text)
            return (.runHalted, "the run halted")
        case RunMessages.discover, RunMessages.spec:
            let own: RunStage = notice.kind == RunMessages.discover ? .discovery : .spec
            guard stage == own else { return (.ignored, "the run is past its \(own.rawValue) stage") }
        default:
            break
        }
        halt(text)
        return (.runHalted, "the run halted")
    }
}
