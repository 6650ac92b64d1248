import Bus
import BusTesting
import Foundation
import Testing

@testable import Roles

/// A run's plan, as the roles read it from the planner's `done/` folders.
@Suite("Goal plans")
struct GoalPlansTests {
    @Test(
        "the goal's plan is read once per process; follow-ups added later are seen; a missing goal is looked for again")
    func readOnce() async throws {
        let temporary = try TemporaryBus(roles: ["planner"])
        let layout = temporary.bus.layout
        let sender = try WorkerID.current(role: "planner")
        let planner = try RoleQueue(bus: temporary.bus, role: "planner", worker: sender)
        let repository = temporary.path + "-repo"
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: repository) }
        try await Git(directory: repository).run(["init", "-q", "-b", "main"])

        // No goal yet: not found, and that is not remembered.
        #expect(throws: RoleError.self) { try RunMessages.plan(of: "r1", layout: layout) }

        try Publisher(bus: temporary.bus, worker: sender).publish(
            Envelope(
                run: "r1", kind: RunMessages.goal, from: sender, to: "planner",
                body: [
                    "plan_text": .string(PlanFolder.oneTaskPlan(repository: repository)),
                    "plan_file": .string(repository + "/plan.yaml"),
                ]))
        try planner.ack(try #require(try planner.claimNext()))
        #expect(try RunMessages.plan(of: "r1", layout: layout).tasks.map(\.id) == ["t1"])

        // The goal's file gone (an archive job, say): the plan is still known.
        let done = layout.done("planner")
        for day in try FileManager.default.contentsOfDirectory(atPath: done) {
            try FileManager.default.removeItem(atPath: done + "/" + day)
        }
        #expect(RunMessages.goal(of: "r1", layout: layout) == nil)
        #expect(try RunMessages.plan(of: "r1", layout: layout).tasks.map(\.id) == ["t1"])

        // Follow-ups the planner adds afterwards are read every time.
        try
            #"{"tasks": [{"id": "t1-f1", "title": "more", "prompt": "more", "scope": ["b.txt"], "depends_on": ["t1"]}]}"#
            .write(toFile: RunFollowups.file(run: "r1", layout: layout), atomically: true, encoding: .utf8)
        #expect(try RunMessages.plan(of: "r1", layout: layout).tasks.map(\.id) == ["t1", "t1-f1"])

        // Another run on the same bus is its own.
        #expect(throws: RoleError.self) { try RunMessages.plan(of: "r2", layout: layout) }
    }
}
