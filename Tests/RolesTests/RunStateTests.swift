import Bus
import Roles
import Testing

/// The planner's fold: what is sent when, retries, failures, the circuit breaker, competitions,
/// approvals, questions, budgets, and the end of a run.
@Suite("Run state")
struct RunStateTests {
    func task(
        _ id: String, _ scope: String, after: [String] = [], candidates: Int = 1, approval: Bool = false
    ) -> PlanTask {
        PlanTask(
            id: id, title: id, prompt: "do \(id)", scope: [scope], dependsOn: after, run: "true",
            candidates: candidates, needsApproval: approval)
    }

    func plan(
        _ tasks: [PlanTask], maxAttempts: Int = 3, risk: PlanRisk = .low, preflight: [Gate] = [], smoke: [Gate] = [],
        runBudget: RunBudget = RunBudget()
    ) -> Plan {
        var plan = Plan(
            name: "p", goal: "g", risk: risk, repository: "/tmp/repo", preflight: preflight, smoke: smoke,
            maxAttempts: maxAttempts, tasks: tasks, file: "/tmp/plan.yaml")
        plan.runBudget = runBudget
        return plan
    }

    func builds(_ actions: [RunAction]) -> [String] {
        actions.compactMap {
            guard case .build(let b) = $0 else { return nil }
            return "\(b.task).\(b.attempt)" + (b.candidate > 1 ? ".c\(b.candidate)" : "")
        }
    }

    func verdict(
        _ task: String, _ attempt: Int, approved: Bool, integrated: String? = nil, candidate: Int = 1,
        pending: String? = nil, feedback: String = "", files: Int = 1, lines: Int = 10
    ) -> RunInput {
        .verdict(
            RunInput.Verdict(
                task: task, attempt: attempt, candidate: candidate, approved: approved, integrated: integrated,
                pending: pending, commit: "c-\(task)-\(attempt)-\(candidate)", feedback: feedback, files: files,
                lines: lines))
    }

    /// Integrates and documents a task, returning the actions of both inputs.
    func integrate(_ state: inout RunState, _ task: String, attempt: Int = 1) -> [RunAction] {
        state.apply(verdict(task, attempt, approved: true, integrated: "m-\(task)"))
            + state.apply(.documented(task: task))
    }

    @Test("independent tasks start together; a dependent one waits; overlapping scopes never build at once")
    func releases() {
        var state = RunState(
            run: "r",
            plan: plan([
                task("a", "src/a/**"), task("b", "src/b/**"), task("c", "src/**", after: ["a"]),
                task("d", "src/a/x.txt"),
            ]))
        #expect(builds(state.start()) == ["a.1", "b.1"])
        #expect(state.tasks["d"] == .waiting)
        let afterA = state.apply(verdict("a", 1, approved: true, integrated: "m-a"))
        // c overlaps b (still building); d no longer overlaps anything in flight.
        #expect(builds(afterA) == ["d.1"])
        #expect(afterA.contains(.changelog(task: "a", commit: "m-a", attempts: 1)))
        _ = state.apply(.documented(task: "a"))
        _ = integrate(&state, "b")
        #expect(builds(integrate(&state, "d")) == ["c.1"])
        let last = integrate(&state, "c")
        #expect(last.last == .finish)
        #expect(state.isFinished)
        #expect(state.tasks["c"] == .integrated(commit: "m-c", attempts: 1))
    }

    @Test("the run ends only once every integrated task's changelog entry is written")
    func waitsForChangelog() {
        var state = RunState(run: "r", plan: plan([task("a", "a/**")]))
        _ = state.start()
        let integrated = state.apply(verdict("a", 1, approved: true, integrated: "m-a"))
        #expect(integrated == [.changelog(task: "a", commit: "m-a", attempts: 1)])
        #expect(!state.isFinished)
        #expect(state.apply(.documented(task: "a")) == [.finish])
        #expect(state.isFinished)
        #expect(state.apply(.documented(task: "a")).isEmpty)
    }

    @Test("a rejection is retried with its feedback until max attempts, then the task fails and blocks its dependents")
    func retriesAndFailure() {
        var state = RunState(
            run: "r", plan: plan([task("a", "a/**"), task("b", "b/**", after: ["a"])], maxAttempts: 2))
        _ = state.start()
        let retry = state.apply(verdict("a", 1, approved: false, feedback: "gate tests failed"))
        #expect(retry == [.build(RunAction.Build(task: "a", attempt: 2, feedback: "gate tests failed"))])
        // A late verdict on attempt 1 changes nothing.
        #expect(state.apply(verdict("a", 1, approved: true, integrated: "x")).isEmpty)
        let after = state.apply(verdict("a", 2, approved: false, feedback: "still failing"))
        #expect(after == [.finish])
        #expect(state.tasks["a"] == .failed(reason: "still failing", attempts: 2))
        #expect(state.tasks["b"] == .blocked(by: "a"))
        #expect(state.isFinished)
    }

    @Test("three task failures in a row trip the circuit breaker: nothing more is released")
    func circuitBreaker() {
        let tasks = (1...6).map { task("t\($0)", "t\($0)/**", after: $0 == 6 ? ["t4"] : []) }
        var state = RunState(run: "r", plan: plan(tasks, maxAttempts: 1))
        #expect(builds(state.start()).count == 5)
        for id in ["t1", "t2", "t3"] { _ = state.apply(verdict(id, 1, approved: false, feedback: "no")) }
        #expect(state.halted == "circuit breaker: 3 task failures in a row")
        #expect(!state.isFinished)
        // t4 is integrated, but its dependent t6 is not released: the run is halted.
        let afterT4 = integrate(&state, "t4")
        #expect(builds(afterT4).isEmpty)
        #expect(state.apply(verdict("t5", 1, approved: false, feedback: "no")) == [.finish])
        #expect(state.tasks["t6"] == .waiting)
        #expect(state.json["halted"]?.stringValue == "circuit breaker: 3 task failures in a row")
    }

    @Test("an answer that comes while the run is halted starts nothing, and the run still ends")
    func answerWhileHalted() {
        var p = plan([task("a", "a/**"), task("b", "b/**"), task("c", "c/**")], maxAttempts: 1)
        p.circuitBreaker = 1
        var state = RunState(run: "r", plan: p)
        _ = state.start()
        _ = state.apply(.question(task: "a", attempt: 1, candidate: 1, id: "q1", text: "Which?"))
        // b fails: the breaker trips while c is still building.
        #expect(state.apply(verdict("b", 1, approved: false, feedback: "no")).isEmpty)
        #expect(state.halted != nil)
        #expect(state.apply(.answer(task: "a", attempt: 1, questionID: "q1", question: "Which?", answer: "x")).isEmpty)
        // c comes back: nothing is in flight, so the halted run ends.
        #expect(state.apply(verdict("c", 1, approved: false, feedback: "no")) == [.finish])
    }

    @Test("after a halted run finished, a late approval of a task left waiting changes nothing")
    func lateDecision() {
        var p = plan([task("a", "a/**", approval: true), task("b", "b/**")], maxAttempts: 1)
        p.circuitBreaker = 1
        var state = RunState(run: "r", plan: p)
        _ = state.start()
        _ = state.apply(verdict("a", 1, approved: true, pending: "approval"))
        #expect(state.apply(verdict("b", 1, approved: false, feedback: "no")) == [.finish])
        #expect(state.isFinished)
        #expect(state.apply(.decision(task: "a", attempt: 1, approved: true, by: "ana", reason: nil)).isEmpty)
        #expect(state.tasks["a"] == .awaitingApproval(attempt: 1, candidate: 1, commit: "c-a-1-1"))
    }

    @Test("the plan's circuit_breaker sets how many failures in a row halt the run")
    func circuitBreakerSetting() {
        var p = plan([task("a", "a/**"), task("b", "b/**")], maxAttempts: 1)
        p.circuitBreaker = 1
        var state = RunState(run: "r", plan: p)
        _ = state.start()
        _ = state.apply(verdict("a", 1, approved: false, feedback: "no"))
        #expect(state.halted == "circuit breaker: 1 task failure in a row")
    }

    @Test(
        "preflight gates run first and a failure halts the run; a medium plan writes its spec, a high one discovers first"
    )
    func stages() {
        let gate = Gate(name: "lint", command: .shell("true"))
        var failing = RunState(run: "r", plan: plan([task("a", "a/**")], preflight: [gate]))
        #expect(failing.start() == [.check(.preflight)])
        #expect(failing.stage == .preflight)
        #expect(failing.apply(.checked(stage: .preflight, passed: false, summary: "lint failed")) == [.finish])
        #expect(failing.halted == "preflight failed: lint failed")
        #expect(failing.tasks["a"] == .waiting)

        var high = RunState(run: "r", plan: plan([task("a", "a/**")], risk: .high, preflight: [gate]))
        _ = high.start()
        #expect(high.apply(.checked(stage: .preflight, passed: true, summary: "ok")) == [.stage(.discovery)])
        #expect(high.apply(.stageDone(.discovery)) == [.stage(.spec)])
        #expect(builds(high.apply(.stageDone(.spec))) == ["a.1"])
        // A stage envelope seen again changes nothing.
        #expect(high.apply(.stageDone(.spec)).isEmpty)

        var medium = RunState(run: "r", plan: plan([task("a", "a/**")], risk: .medium))
        #expect(medium.start() == [.stage(.spec)])
    }

    @Test("smoke gates run once after the last task is documented; their result ends the run")
    func smoke() {
        let gate = Gate(name: "smoke", command: .shell("true"))
        var state = RunState(run: "r", plan: plan([task("a", "a/**")], smoke: [gate]))
        _ = state.start()
        #expect(integrate(&state, "a") == [.changelog(task: "a", commit: "m-a", attempts: 1), .check(.smoke)])
        #expect(state.stage == .smoke)
        #expect(!state.isFinished)
        #expect(state.apply(.checked(stage: .smoke, passed: false, summary: "smoke failed")) == [.finish])
        #expect(state.smoke?.passed == false && state.smoke?.summary == "smoke failed")
        #expect(state.json["smoke"]?["passed"] == .bool(false))
    }

    @Test("candidates are built together, judged once all are verified, and the winner is integrated")
    func competition() {
        var state = RunState(run: "r", plan: plan([task("a", "a/**", candidates: 2)]))
        #expect(builds(state.start()) == ["a.1", "a.1.c2"])
        #expect(state.apply(verdict("a", 1, approved: true, candidate: 2, pending: "judge")).isEmpty)
        #expect(state.hasWorkInFlight)
        let judging = state.apply(verdict("a", 1, approved: false, candidate: 1, feedback: "tests failed"))
        guard case .judge(let task, let attempt, let candidates)? = judging.first else {
            Issue.record("expected a judge action, got \(judging)")
            return
        }
        #expect(task == "a" && attempt == 1 && candidates.map(\.candidate) == [1, 2])
        #expect(state.tasks["a"] == .judging(attempt: 1))
        let chosen = state.apply(.judgment(task: "a", attempt: 1, winner: 2, reasons: "candidate 2 wins"))
        guard case .integrate(_, _, let winner)? = chosen.first else {
            Issue.record("expected an integrate action, got \(chosen)")
            return
        }
        #expect(winner.candidate == 2 && winner.commit == "c-a-1-2")
        #expect(state.tasks["a"] == .integrating(attempt: 1, candidate: 2, commit: "c-a-1-2"))
        _ = integrate(&state, "a")
        #expect(state.isFinished)
        #expect(state.json["tasks"]?.arrayValue?.first?["judgment"]?.stringValue == "candidate 2 wins")
    }

    @Test("when no candidate is approved the attempt is rejected with every candidate's reasons")
    func competitionAllRejected() {
        var state = RunState(run: "r", plan: plan([task("a", "a/**", candidates: 2)]))
        _ = state.start()
        _ = state.apply(verdict("a", 1, approved: false, candidate: 1, feedback: "one"))
        let retry = state.apply(verdict("a", 1, approved: false, candidate: 2, feedback: "two"))
        #expect(builds(retry) == ["a.2", "a.2.c2"])
        #expect(state.feedback["a"]?.contains("candidate 1: one") == true)
        #expect(state.feedback["a"]?.contains("candidate 2: two") == true)
    }

    @Test("a task needing approval waits for a person; a rejection retries with the reason, an approval integrates")
    func approval() {
        var state = RunState(run: "r", plan: plan([task("a", "a/**", approval: true)]))
        _ = state.start()
        let asked = state.apply(verdict("a", 1, approved: true, pending: "approval"))
        guard case .approve(_, 1, let v)? = asked.first else {
            Issue.record("expected an approval request, got \(asked)")
            return
        }
        #expect(v.commit == "c-a-1-1")
        #expect(state.waitingOnPeople?.contains("approval of task a") == true)
        #expect(state.json["waiting"]?.stringValue?.contains("planbus approve r a") == true)
        let retry = state.apply(.decision(task: "a", attempt: 1, approved: false, by: "ana", reason: "wrong file"))
        #expect(retry == [.build(RunAction.Build(task: "a", attempt: 2, feedback: "rejected by ana: wrong file"))])
        _ = state.apply(verdict("a", 2, approved: true, pending: "approval"))
        // A decision on an older attempt changes nothing.
        #expect(state.apply(.decision(task: "a", attempt: 1, approved: true, by: "ana", reason: nil)).isEmpty)
        let approved = state.apply(.decision(task: "a", attempt: 2, approved: true, by: "ana", reason: nil))
        guard case .integrate(_, 2, _)? = approved.first else {
            Issue.record("expected an integrate action, got \(approved)")
            return
        }
        #expect(state.waitingOnPeople == nil)
        _ = integrate(&state, "a", attempt: 2)
        #expect(state.isFinished)
        #expect(state.decisions["a"] == "approved by ana")
    }

    @Test("a step's question goes to people; other work goes on; the answer rebuilds the same attempt with it")
    func questions() {
        var state = RunState(
            run: "r", plan: plan([task("a", "a/**"), task("b", "b/**"), task("c", "c/**", after: ["a"])]))
        _ = state.start()
        let forwarded = state.apply(.question(task: "a", attempt: 1, candidate: 1, id: "q1", text: "Which port?"))
        #expect(forwarded == [.ask(task: "a", attempt: 1, candidate: 1, id: "q1", text: "Which port?")])
        #expect(state.json["tasks"]?.arrayValue?.first?["state"] == "asking")
        // b is still building, so the run is not yet waiting on a person.
        #expect(state.waitingOnPeople == nil)
        _ = integrate(&state, "b")
        #expect(state.waitingOnPeople?.contains("question q1 on task a") == true)
        #expect(state.apply(.answer(task: "a", attempt: 1, questionID: "nope", question: "", answer: "x")).isEmpty)
        let rebuilt = state.apply(
            .answer(task: "a", attempt: 1, questionID: "q1", question: "Which port?", answer: "8080"))
        #expect(
            rebuilt == [
                .build(
                    RunAction.Build(
                        task: "a", attempt: 1,
                        answers: [RunAction.QuestionAndAnswer(question: "Which port?", answer: "8080")]))
            ])
        #expect(state.waitingOnPeople == nil)
        #expect(builds(integrate(&state, "a")) == ["c.1"])
    }

    @Test("the run's budget halts it: attempts before they start, integrated lines once passed")
    func budget() {
        var attempts = RunState(
            run: "r", plan: plan([task("a", "a/**"), task("b", "b/**")], runBudget: RunBudget(attempts: 2)))
        #expect(builds(attempts.start()) == ["a.1", "b.1"])
        _ = attempts.apply(verdict("a", 1, approved: false, feedback: "no"))
        #expect(attempts.halted?.hasPrefix("budget: 2 of the run's 2 build attempts started") == true)
        #expect(attempts.tasks["a"].map { if case .failed = $0 { true } else { false } } == true)
        #expect(attempts.apply(verdict("b", 1, approved: true, integrated: "m-b")).count == 1)
        #expect(attempts.apply(.documented(task: "b")) == [.finish])

        var lines = RunState(
            run: "r", plan: plan([task("a", "a/**"), task("b", "b/**", after: ["a"])], runBudget: RunBudget(lines: 15)))
        _ = lines.start()
        _ = lines.apply(verdict("a", 1, approved: true, integrated: "m-a", lines: 20))
        #expect(lines.halted == "budget: the integrated changes change 20 lines, over the run's 15")
        #expect(lines.apply(.documented(task: "a")) == [.finish])
        #expect(lines.tasks["b"] == .waiting)
        // In status.json, a task still waiting when the halted run finished will not start.
        #expect(lines.json["tasks"]?.arrayValue?.last?["state"] == "not_started")
    }
}
