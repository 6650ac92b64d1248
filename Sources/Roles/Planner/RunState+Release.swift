extension RunState {
    /// The builds to send now, while building: every waiting task whose dependencies are
    /// integrated and whose scope overlaps no task in progress, in file order.
    mutating func release() -> [RunAction] {
        guard stage == .build, halted == nil else { return [] }
        var out: [RunAction] = []
        for task in plan.tasks where tasks[task.id] == .waiting {
            let ready = task.dependsOn.allSatisfy { dep in
                if case .integrated = tasks[dep] { return true } else { return false }
            }
            guard ready else { continue }
            let clash = plan.tasks.contains { other in
                guard other.id != task.id, let status = tasks[other.id], status.attempt != nil else { return false }
                return task.scopeOverlaps(other)
            }
            if clash { continue }
            guard let builds = builds(task.id, attempt: 1, feedback: nil) else { break }
            tasks[task.id] = .building(attempt: 1)
            out += builds
        }
        return out
    }

    /// One build per candidate of the task's attempt (or only `candidate`), counted against the
    /// run's attempt budget; `nil` when the run is halted, or when the budget cannot cover them
    /// (which halts the run).
    mutating func builds(_ id: String, attempt: Int, feedback: String?, candidate: Int? = nil) -> [RunAction]? {
        guard halted == nil else { return nil }
        let count = candidate == nil ? plan.task(id)?.candidates ?? 1 : 1
        if let limit = plan.runBudget.attempts, spent.attempts + count > limit {
            halt("budget: \(spent.attempts) of the run's \(limit) build attempts started; \(id) needs \(count) more")
            return nil
        }
        spent.attempts += count
        return (candidate.map { [$0] } ?? Array(1...count)).map { candidate in
            .build(
                RunAction.Build(
                    task: id, attempt: attempt, candidate: candidate, feedback: feedback, answers: answers[id] ?? []))
        }
    }

    /// Marks every task that depends on `failed`, directly or not, as blocked.
    mutating func block(dependentsOf failed: String) {
        var changed = true
        while changed {
            changed = false
            for task in plan.tasks where tasks[task.id] == .waiting {
                let culprit = task.dependsOn.first { dep in
                    switch tasks[dep] {
                    case .failed, .blocked: return true
                    default: return false
                    }
                }
                if let culprit {
                    tasks[task.id] = .blocked(by: culprit)
                    changed = true
                }
            }
        }
    }
}
