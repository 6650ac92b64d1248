import Bus
import BusBench
import BusTesting
import Foundation
import Roles
import Testing

/// The pure parts of `planbus bench run`: its plan, the ideal, the step times of `builder.log`,
/// and the journal arithmetic of ``RunTimeline``.
@Suite("bench run: plan and arithmetic")
struct RunBenchTests {
    @Test("the plan loads, every task is in wave 1, and a step writes its own file")
    func planLoadsAndRuns() async throws {
        let folder = try await PlanFolder()
        let text = RunPlanText.plan(name: "bench", repository: folder.repository, tasks: 12, stepSeconds: 0)
        let plan = try PlanLoader.load(path: try folder.write(text))
        #expect(plan.tasks.map(\.id) == (0..<12).map { String(format: "t%02d", $0) })
        #expect(plan.tasks[7].scope == ["t07/**"])
        #expect(plan.tasks[7].run == "mkdir -p t07 && echo 7 > t07/done")
        #expect(RunSupport.unsupported(plan).isEmpty)
        #expect(PlanRoute(plan: plan).waves == [plan.tasks.map(\.id)])

        let ran = try await runCommand(["/bin/sh", "-c", plan.tasks[7].run!], directory: folder.repository)
        #expect(ran.code == 0)
        #expect(try String(contentsOfFile: folder.repository + "/t07/done", encoding: .utf8) == "7\n")
    }

    @Test("task ids are padded to the width of the last index; sleeps are written as sleep reads them")
    func idsAndSteps() {
        #expect(RunPlanText.taskID(3, of: 32) == "t03")
        #expect(RunPlanText.taskID(3, of: 500) == "t003")
        #expect(RunPlanText.taskID(499, of: 500) == "t499")
        #expect(RunPlanText.taskID(0, of: 1) == "t00")
        #expect(RunPlanText.step(task: "t07", index: 7, seconds: 1) == "sleep 1 && mkdir -p t07 && echo 7 > t07/done")
        #expect(RunPlanText.step(task: "t07", index: 7, seconds: 0.25).hasPrefix("sleep 0.25 && "))
    }

    @Test("ideal = ceil(tasks / builders) rounds of the floor, plus one verification")
    func ideal() {
        #expect(RunIdeal.seconds(tasks: 32, builders: 8, stepFloor: 1.0, verify: 0.2) == 4.2)
        #expect(RunIdeal.seconds(tasks: 32, builders: 1, stepFloor: 1.5, verify: 0) == 48)
        #expect(RunIdeal.seconds(tasks: 33, builders: 8, stepFloor: 1, verify: 0) == 5)
        #expect(RunIdeal.seconds(tasks: 0, builders: 8, stepFloor: 1, verify: 0) == 0)
        #expect(RunIdeal.ratio(makespan: 4.6, ideal: 4) == 1.15)
        #expect(RunIdeal.ratio(makespan: 1, ideal: 0) == 0)
    }

    @Test("the step time is read from the last attempt's lines of builder.log")
    func stepLog() {
        let log = """
            # 2026-11-22T10:00:00.000Z attempt 1 of t07 by builder
            $ sleep 1
            # 2026-11-22T10:00:01.250Z step ended: exited(0)
            # 2026-11-22T10:00:05.000Z attempt 2 of t07 by builder
            $ sleep 1
            output # 2026-11-22T10:09:00.000Z step ended
            # 2026-11-22T10:00:06.020Z step ended: exited(0)
            """
        #expect(RunStepLog.stepSeconds(log) == 1.02)
        #expect(RunStepLog.stepSeconds("# 2026-11-22T10:00:00.000Z attempt 1 of t07 by b\n$ sleep 1\n") == nil)
        #expect(RunStepLog.stepSeconds("") == nil)
    }

    @Test("the journal gives each stage: waits, handling, builder wall and overhead, hand-offs, the tail")
    func timeline() {
        // One builder, two tasks; times in milliseconds from 0.
        var events: [JournalEvent] = []
        func add(_ kind: JournalEvent.Kind, _ ms: Int64, id: String, role: String, envelope: String, task: String?) {
            events.append(
                JournalEvent(
                    time: Timestamp(milliseconds: 1_000_000 + ms), event: kind, id: id, role: role, epoch: 1,
                    worker: role + "-0", kind: envelope, task: task))
        }
        add(.publish, 0, id: "g", role: "planner", envelope: "goal", task: nil)
        add(.claim, 10, id: "g", role: "planner", envelope: "goal", task: nil)
        add(.ack, 50, id: "g", role: "planner", envelope: "goal", task: nil)
        for (index, task) in ["a", "b"].enumerated() {
            let t = Int64(index) * 1_100
            add(.publish, 45, id: "build-" + task, role: "builder", envelope: "build", task: task)
            add(.claim, 60 + t, id: "build-" + task, role: "builder", envelope: "build", task: task)
            add(.ack, 1_140 + t, id: "build-" + task, role: "builder", envelope: "build", task: task)
            add(.publish, 1_139 + t, id: "built-" + task, role: "verifier", envelope: "built", task: task)
            add(.claim, 1_145 + t, id: "built-" + task, role: "verifier", envelope: "built", task: task)
            add(.ack, 1_245 + t, id: "built-" + task, role: "verifier", envelope: "built", task: task)
            add(.publish, 1_244 + t, id: "verdict-" + task, role: "planner", envelope: "verdict", task: task)
            add(.claim, 1_250 + t, id: "verdict-" + task, role: "planner", envelope: "verdict", task: task)
            add(
                .ack, 1_270 + t + Int64(index) * 10, id: "verdict-" + task, role: "planner", envelope: "verdict",
                task: task)
        }
        let t = RunTimeline(events: events.reversed(), steps: ["a": 1.0, "b": 1.05])
        #expect(t.goalWait == 0.010)
        #expect(t.goalHandling == 0.040)
        #expect(t.firstClaim == 0.010)
        #expect(t.builderWall.sorted == [1.08, 1.08])
        #expect(t.builderOverhead.sorted.map { ($0 * 1000).rounded() } == [30, 80])
        // a: ready at its publish (45), claimed at 60; b: ready at a's ack (1140), claimed at 1160.
        #expect(t.handoff.sorted.map { ($0 * 1000).rounded() } == [15, 20])
        #expect(t.buildPhase == 2.19)
        #expect(t.verify.mean == 0.1)
        #expect(t.stages.map(\.name) == ["planner/goal", "verifier/built", "planner/verdict"])
        #expect(t.stage("verifier/built")?.wait.sorted.map { ($0 * 1000).rounded() } == [6, 6])
        #expect(t.stage("planner/verdict")?.handling.total == 0.05)
        #expect(t.plannerHandling.map { ($0 * 1000).rounded() } == [20, 30])
        #expect(t.plannerGrowth(fraction: 0.5) == (first: 0.02, last: 0.03))
        #expect(abs(t.plannerSlope - 0.01) < 1e-9)
        // Tail: last builder ack 2240 → last planner ack 2380, as b's verify wait and verification,
        // then its verdict's wait and the planner's handling.
        #expect(abs(t.tail - 0.14) < 1e-9)
        #expect(t.tailSteps.map(\.name) == ["verifier/built", "planner/verdict"])
        #expect(t.tailSteps.map { ($0.wait.total * 1000).rounded() } == [6, 6])
        #expect(t.tailSteps.map { ($0.handling.total * 1000).rounded() } == [100, 30])
        #expect(t.journalSpan == 2.38)
    }
}
