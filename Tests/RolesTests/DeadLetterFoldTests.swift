import Bus
import Foundation
import Testing

@testable import Roles

/// What the planner's fold makes of a dead letter of a run (``RunInput/deadLetter(_:)``).
@Suite("Dead letter fold")
struct DeadLetterFoldTests {
    func task(_ id: String, candidates: Int = 1, after: [String] = []) -> PlanTask {
        PlanTask(
            id: id, title: id, prompt: "do \(id)", scope: ["\(id)/**"], dependsOn: after, run: "true",
            candidates: candidates)
    }

    func plan(_ tasks: [PlanTask], maxAttempts: Int = 2, smoke: [Gate] = []) -> Plan {
        Plan(
            name: "p", goal: "g", risk: .low, repository: "/tmp/repo", smoke: smoke, maxAttempts: maxAttempts,
            tasks: tasks, file: "/tmp/plan.yaml")
    }

    func deadBuild(_ task: String, attempt: Int, candidate: Int = 1, id: String? = nil) -> DeadLetterNotice {
        DeadLetterNotice(
            id: id ?? "1700000000000-build-\(task)-\(attempt)-\(candidate)", kind: RunMessages.build, role: "builder",
            file: "x.e3.json", task: task, attempt: attempt, candidate: candidate,
            reason: "holder builder@h:1:abc died (no heartbeat) at epoch 3, max_attempts 3")
    }

    @Test("a dead build with attempts left is built again with the dead letter as its feedback")
    func retried() {
        var state = RunState(run: "r", plan: plan([task("a")]))
        _ = state.start()
        let notice = deadBuild("a", attempt: 1)
        let out = state.apply(.deadLetter(notice))
        guard case .build(let build)? = out.first else {
            Issue.record("no build: \(out)")
            return
        }
        #expect(build.task == "a" && build.attempt == 2)
        #expect(build.feedback?.contains("build envelope \(notice.id)") == true)
        #expect(build.feedback?.contains("builder queue") == true)
        #expect(build.feedback?.contains("max_attempts 3") == true)
        #expect(state.tasks["a"] == .building(attempt: 2))
        #expect(state.deadLetters.map(\.effect) == [.retried])
        let listed = state.json["dead_letters"]?.arrayValue?.first
        #expect(listed?["effect"] == "retried")
        #expect(listed?["id"]?.stringValue == notice.id)
    }

    @Test("a dead build of the last attempt fails the task; the run ends naming the dead letter")
    func lastAttemptFails() {
        var state = RunState(run: "r", plan: plan([task("a"), task("b", after: ["a"])], maxAttempts: 1))
        _ = state.start()
        let notice = deadBuild("a", attempt: 1)
        #expect(state.apply(.deadLetter(notice)) == [.finish])
        #expect(state.isFinished)
        guard case .failed(let reason, let attempts) = state.tasks["a"] else {
            Issue.record("a is \(String(describing: state.tasks["a"]))")
            return
        }
        #expect(attempts == 1)
        #expect(reason.contains(notice.id) && reason.contains("builder") && reason.contains("died"))
        #expect(state.tasks["b"] == .blocked(by: "a"))
        #expect(state.json["dead_letters"]?.arrayValue?.first?["effect"] == "task_failed")
    }

    @Test("the same dead letter taken twice acts once; one of an attempt no longer in progress changes nothing")
    func once() {
        var state = RunState(run: "r", plan: plan([task("a")], maxAttempts: 3))
        _ = state.start()
        let notice = deadBuild("a", attempt: 1)
        #expect(!state.apply(.deadLetter(notice)).isEmpty)
        #expect(state.apply(.deadLetter(notice)).isEmpty)
        #expect(state.tasks["a"] == .building(attempt: 2))
        #expect(state.deadLetters.count == 1)
        // Another letter, of attempt 1 (a copy of its build in another queue), is stale.
        var stale = notice
        stale.role = "verifier"
        stale.kind = RunMessages.built
        #expect(state.apply(.deadLetter(stale)).isEmpty)
        #expect(state.tasks["a"] == .building(attempt: 2))
        #expect(state.deadLetters.last?.effect == .ignored)
    }

    @Test("a dead candidate counts as rejected; the attempt waits for the others")
    func candidate() {
        var state = RunState(run: "r", plan: plan([task("a", candidates: 2)]))
        _ = state.start()
        #expect(state.apply(.deadLetter(deadBuild("a", attempt: 1, candidate: 2))).isEmpty)
        #expect(state.tasks["a"] == .building(attempt: 1))
        #expect(state.deadLetters.last?.effect == .recorded)
        let verdict = RunInput.Verdict(
            task: "a", attempt: 1, candidate: 1, approved: false, integrated: nil, feedback: "gate failed")
        let retry = state.apply(.verdict(verdict))
        #expect(retry.count == 2)
        #expect(state.tasks["a"] == .building(attempt: 2))
        #expect(state.feedback["a"]?.contains("candidate 2: the build envelope") == true)
        // A judge hears of the dead candidate as a rejected one of its own number.
        var judged = RunState(run: "r", plan: plan([task("a", candidates: 2)]))
        _ = judged.start()
        _ = judged.apply(.deadLetter(deadBuild("a", attempt: 1, candidate: 1)))
        var approved = verdict
        approved.candidate = 2
        approved.approved = true
        approved.commit = "c2"
        approved.body = ["candidate": 2, "approved": true, "commit": "c2"]
        guard case .judge(_, _, let candidates)? = judged.apply(.verdict(approved)).first else {
            Issue.record("no judge: \(judged.tasks)")
            return
        }
        #expect(candidates.map { $0.body["candidate"]?.intValue } == [1, 2])
        #expect(candidates.first?.body["approved"] == .bool(false))
    }

    @Test("a dead envelope of no task halts the run with its reason; after the run finished, nothing happens")
    func noTask() {
        var state = RunState(run: "r", plan: plan([task("a"), task("b")]))
        _ = state.start()
        let stray = DeadLetterNotice(
            id: "1700000000000-stray", kind: "handoff", role: "docs", file: "s.e1.json", reason: "docs failed")
        #expect(state.apply(.deadLetter(stray)).isEmpty)
        #expect(state.halted?.contains("handoff envelope 1700000000000-stray") == true)
        #expect(state.halted?.contains("docs queue: docs failed") == true)
        #expect(state.deadLetters.last?.effect == .runHalted)
        // The builds in flight come back; then the halted run ends.
        let rejected = RunInput.Verdict(task: "a", attempt: 1, approved: false, integrated: nil, feedback: "no")
        #expect(state.apply(.verdict(rejected)).isEmpty)
        let other = RunInput.Verdict(task: "b", attempt: 1, approved: false, integrated: nil, feedback: "no")
        #expect(state.apply(.verdict(other)) == [.finish])
        let late = DeadLetterNotice(
            id: "1700000000000-late", kind: "bogus", role: "verifier", file: "l.e1.json", reason: "no such kind")
        #expect(state.apply(.deadLetter(late)).isEmpty)
        #expect(state.deadLetters.count == 1)
    }

    @Test("a dead smoke check fails the smoke gates; a dead changelog halts the run instead of leaving it waiting")
    func checksAndChangelog() {
        let gate = Gate(name: "s", command: .argv(["true"]))
        var state = RunState(run: "r", plan: plan([task("a")], smoke: [gate]))
        _ = state.start()
        let merged = RunInput.Verdict(task: "a", attempt: 1, approved: true, integrated: "m", feedback: "")
        #expect(state.apply(.verdict(merged)) == [.changelog(task: "a", commit: "m", attempts: 1)])
        let changelog = DeadLetterNotice(
            id: "1700000000000-changelog", kind: RunMessages.changelog, role: "docs", file: "c.e3.json", task: "a",
            attempt: 1, candidate: 1, reason: "failed 3 deliveries")
        #expect(state.apply(.deadLetter(changelog)) == [.finish])
        #expect(state.halted?.contains("changelog envelope") == true)

        var smoked = RunState(run: "r", plan: plan([task("a")], smoke: [gate]))
        _ = smoked.start()
        _ = smoked.apply(.verdict(merged))
        #expect(smoked.apply(.documented(task: "a")) == [.check(.smoke)])
        let check = DeadLetterNotice(
            id: "1700000000000-check", kind: RunMessages.check, role: "verifier", file: "k.e3.json", stage: "smoke",
            reason: "failed 3 deliveries")
        #expect(smoked.apply(.deadLetter(check)) == [.finish])
        #expect(smoked.smoke?.passed == false)
        #expect(smoked.halted == nil)
    }

    @Test("a notice envelope reads back as the input it was made from, and a replayed fold decides the same")
    func replay() async throws {
        let worker = try WorkerID.current(role: "planner")
        let notice = deadBuild("a", attempt: 1)
        let envelope = notice.envelope(run: "r", from: worker)
        #expect(envelope.id == DeadLetterNotice.noticeID(of: notice.id, role: "builder"))
        #expect(envelope.kind == "dead_letter" && envelope.to == "planner")
        #expect(RunInput(envelope) == .deadLetter(notice))

        let folder = FileManager.default.temporaryDirectory.path + "/planbus-dead-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try await Git.create(at: folder, files: [("README", "start\n")], message: "start")
        let text = """
            version: 1
            name: p
            goal: g
            risk: low
            repository: \(folder)
            max_attempts: 1
            tasks:
              - id: a
                title: a
                prompt: do a
                scope: [a/**]
                run: "true"
            """
        let goal = Envelope(
            run: "r", kind: RunMessages.goal, from: worker, to: "planner",
            body: ["plan_text": .string(text), "plan_file": "/tmp/plan.yaml"])
        var fold = RunFold(limits: CostLimits())
        fold.replay(goal)
        fold.replay(envelope)
        let state = try #require(fold.state)
        #expect(state.isFinished)
        #expect(state.json["tasks"]?.arrayValue?.first?["state"] == "failed")
        #expect(state.json["dead_letters"]?.arrayValue?.first?["effect"] == "task_failed")
    }
}
