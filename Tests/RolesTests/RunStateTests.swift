import Roles
import Testing

/// The planner's fold: what is built when, retries, failures, the circuit breaker.
@Suite("Run state")
struct RunStateTests {
    func task(_ id: String, _ scope: String, after: [String] = []) -> PlanTask {
        PlanTask(id: id, title: id, prompt: "do \(id)", scope: [scope], dependsOn: after, run: "true")
    }

    func plan(_ tasks: [PlanTask], maxAttempts: Int = 3) -> Plan {
        Plan(
            name: "p", goal: "g", risk: .low, repository: "/tmp/repo", maxAttempts: maxAttempts, tasks: tasks,
            file: "/tmp/plan.yaml")
    }

    @Test("independent tasks start together; a dependent one waits; overlapping scopes never build at once")
    func releases() {
        var state = RunState(
            run: "r",
            plan: plan([
                task("a", "src/a/**"), task("b", "src/b/**"), task("c", "src/**", after: ["a"]),
                task("d", "src/a/x.txt"),
            ]))
        let first = state.release()
        #expect(first.map(\.task) == ["a", "b"])
        #expect(state.tasks["d"] == .waiting)
        let none = state.release()
        #expect(none.isEmpty)
        let applied = state.apply(verdictOn: "a", attempt: 1, approved: true, integrated: "c1", feedback: "")
        #expect(applied)
        // c overlaps b (still building); d no longer overlaps anything in flight.
        let second = state.release()
        #expect(second.map(\.task) == ["d"])
        state.apply(verdictOn: "b", attempt: 1, approved: true, integrated: "c2", feedback: "")
        state.apply(verdictOn: "d", attempt: 1, approved: true, integrated: "c3", feedback: "")
        let third = state.release()
        #expect(third.map(\.task) == ["c"])
        state.apply(verdictOn: "c", attempt: 1, approved: true, integrated: "c4", feedback: "")
        #expect(state.isFinished)
        #expect(state.tasks["c"] == .integrated(commit: "c4", attempts: 1))
    }

    @Test("a rejection is retried with its feedback until max attempts, then the task fails and blocks its dependents")
    func retriesAndFailure() {
        var state = RunState(
            run: "r", plan: plan([task("a", "a/**"), task("b", "b/**", after: ["a"])], maxAttempts: 2))
        _ = state.release()
        state.apply(verdictOn: "a", attempt: 1, approved: false, integrated: nil, feedback: "gate tests failed")
        let retry = state.release()
        #expect(retry == [RunState.Release(task: "a", attempt: 2, feedback: "gate tests failed")])
        // A late verdict on attempt 1 changes nothing.
        let late = state.apply(verdictOn: "a", attempt: 1, approved: true, integrated: "x", feedback: "")
        #expect(!late)
        state.apply(verdictOn: "a", attempt: 2, approved: false, integrated: nil, feedback: "still failing")
        let after = state.release()
        #expect(after.isEmpty)
        #expect(state.tasks["a"] == .failed(reason: "still failing", attempts: 2))
        #expect(state.tasks["b"] == .blocked(by: "a"))
        #expect(state.isFinished)
    }

    @Test("three task failures in a row trip the circuit breaker: nothing more is released")
    func circuitBreaker() {
        let tasks = (1...5).map { task("t\($0)", "t\($0)/**") }
        var state = RunState(run: "r", plan: plan(tasks, maxAttempts: 1))
        let all = state.release()
        #expect(all.count == 5)
        for id in ["t1", "t2", "t3"] {
            state.apply(verdictOn: id, attempt: 1, approved: false, integrated: nil, feedback: "no")
        }
        #expect(state.halted == "circuit breaker: 3 task failures in a row")
        #expect(!state.isFinished)
        state.apply(verdictOn: "t4", attempt: 1, approved: true, integrated: "c", feedback: "")
        state.apply(verdictOn: "t5", attempt: 1, approved: false, integrated: nil, feedback: "no")
        let halted = state.release()
        #expect(halted.isEmpty)
        #expect(state.isFinished)
    }
}
