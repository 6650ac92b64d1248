extension RunState {
    /// A verifier's verdict: integrated, a candidate to judge, a change awaiting approval, or a
    /// rejection.
    mutating func apply(_ verdict: RunInput.Verdict) -> [RunAction] {
        let id = verdict.task
        guard let task = plan.task(id) else { return [] }
        switch tasks[id] {
        case .building(let attempt) where attempt == verdict.attempt:
            if verdict.approved, let merge = verdict.integrated {
                return integrated(id, merge: merge, attempt: attempt, change: verdict)
            }
            if task.candidates > 1 {
                guard candidates[id]?[verdict.candidate] == nil, questions[id]?[verdict.candidate] == nil else {
                    return []
                }
                candidates[id, default: [:]][verdict.candidate] = verdict
                guard candidates[id]!.count == task.candidates else { return [] }
                let all = candidates[id]!.sorted { $0.key < $1.key }.map(\.value)
                guard all.contains(where: \.approved) else {
                    let reasons = all.map { "candidate \($0.candidate): \($0.feedback)" }.joined(separator: "\n")
                    return reject(id, attempt: attempt, feedback: "no candidate was approved.\n" + reasons)
                }
                tasks[id] = .judging(attempt: attempt)
                return [.judge(task: id, attempt: attempt, candidates: all)]
            }
            if verdict.approved, verdict.pending == "approval", let commit = verdict.commit {
                candidates[id] = [verdict.candidate: verdict]
                tasks[id] = .awaitingApproval(attempt: attempt, candidate: verdict.candidate, commit: commit)
                return [.approve(task: id, attempt: attempt, verdict: verdict)]
            }
            return reject(id, attempt: attempt, feedback: verdict.feedback)
        case .integrating(let attempt, let candidate, _) where attempt == verdict.attempt:
            if verdict.approved, let merge = verdict.integrated {
                return integrated(id, merge: merge, attempt: attempt, change: candidates[id]?[candidate] ?? verdict)
            }
            return reject(id, attempt: attempt, feedback: verdict.feedback)
        default:
            return []
        }
    }

    /// The judge's pick among an attempt's candidates.
    mutating func judged(_ id: String, attempt: Int, winner: Int?, reasons: String) -> [RunAction] {
        guard case .judging(let current) = tasks[id], current == attempt, let task = plan.task(id) else { return [] }
        judgments[id] = reasons
        guard let winner, let chosen = candidates[id]?[winner], chosen.approved, let commit = chosen.commit else {
            return reject(id, attempt: attempt, feedback: "the judge picked no approved candidate: \(reasons)")
        }
        if task.needsApproval {
            tasks[id] = .awaitingApproval(attempt: attempt, candidate: winner, commit: commit)
            return [.approve(task: id, attempt: attempt, verdict: chosen)]
        }
        tasks[id] = .integrating(attempt: attempt, candidate: winner, commit: commit)
        return [.integrate(task: id, attempt: attempt, verdict: chosen)]
    }

    /// A person's decision on a task awaiting approval.
    mutating func decided(_ id: String, attempt: Int, approved: Bool, by: String, reason: String?) -> [RunAction] {
        guard case .awaitingApproval(let current, let candidate, let commit) = tasks[id], current == attempt,
            let verdict = candidates[id]?[candidate]
        else { return [] }
        if approved {
            decisions[id] = "approved by \(by)" + (reason.map { ": \($0)" } ?? "")
            tasks[id] = .integrating(attempt: attempt, candidate: candidate, commit: commit)
            return [.integrate(task: id, attempt: attempt, verdict: verdict)]
        }
        let why = "rejected by \(by): \(reason ?? "no reason given")"
        decisions[id] = why
        return reject(id, attempt: attempt, feedback: why)
    }

    /// A builder's step asked a question: it goes to people, and that candidate waits.
    mutating func asked(_ id: String, attempt: Int, candidate: Int, id questionID: String, text: String)
        -> [RunAction]
    {
        guard case .building(let current) = tasks[id], current == attempt, candidates[id]?[candidate] == nil,
            questions[id]?[candidate] == nil
        else { return [] }
        questions[id, default: [:]][candidate] = PendingQuestion(id: questionID, attempt: attempt, text: text)
        return [.ask(task: id, attempt: attempt, candidate: candidate, id: questionID, text: text)]
    }

    /// A person answered: the candidate that asked is built again, with every answer so far.
    mutating func answered(_ id: String, attempt: Int, questionID: String, answer: String) -> [RunAction] {
        guard case .building(let current) = tasks[id], current == attempt,
            let (candidate, question) = questions[id]?.first(where: { $0.value.id == questionID })
        else { return [] }
        answers[id, default: []].append(RunAction.QuestionAndAnswer(question: question.text, answer: answer))
        // The build again counts against the run's attempts. A halted run starts nothing: the
        // question then stays open, so nothing counts as in flight and the run can end.
        guard let build = builds(id, attempt: attempt, feedback: feedback[id], candidate: candidate) else {
            return []
        }
        questions[id]![candidate] = nil
        if questions[id]!.isEmpty { questions[id] = nil }
        return build
    }

    /// The task is integrated: its changelog entry is asked for, and the run's budget checked.
    mutating func integrated(_ id: String, merge: String, attempt: Int, change: RunInput.Verdict) -> [RunAction] {
        tasks[id] = .integrated(commit: merge, attempts: attempt)
        candidates[id] = nil
        consecutiveFailures = 0
        spent.files += change.files
        spent.lines += change.lines
        let budget = plan.runBudget
        if let files = budget.files, spent.files > files {
            halt("budget: the integrated changes touch \(spent.files) files, over the run's \(files)")
        } else if let lines = budget.lines, spent.lines > lines {
            halt("budget: the integrated changes change \(spent.lines) lines, over the run's \(lines)")
        }
        return [.changelog(task: id, commit: merge, attempts: attempt)]
    }

    /// A rejection: the next attempt with the feedback, or, after the last one, the task fails and
    /// blocks its dependents.
    mutating func reject(_ id: String, attempt: Int, feedback text: String) -> [RunAction] {
        feedback[id] = text
        candidates[id] = nil
        questions[id] = nil
        if attempt < plan.maxAttempts {
            if let builds = builds(id, attempt: attempt + 1, feedback: text) {
                tasks[id] = .building(attempt: attempt + 1)
                return builds
            }
            tasks[id] = .failed(
                reason: text + "\n(not retried: \(halted ?? "the run's budget is spent"))", attempts: attempt)
        } else {
            tasks[id] = .failed(reason: text, attempts: attempt)
        }
        consecutiveFailures += 1
        block(dependentsOf: id)
        if consecutiveFailures >= plan.circuitBreaker {
            halt(
                "circuit breaker: \(consecutiveFailures) task failure\(consecutiveFailures == 1 ? "" : "s") in a row")
        }
        return []
    }

    /// Stops releasing work, keeping the first reason.
    mutating func halt(_ reason: String) {
        if halted == nil { halted = reason }
    }
}
