import Bus
import BusTesting
import Foundation
import Roles
import Testing

/// `RunMerge` on a real repository: smoke gates decide, and only a fast-forward moves the base.
@Suite("Run merge")
struct RunMergeTests {
    /// A repository on `main`, an integration branch one commit ahead, and a bus for the logs.
    func setUp() async throws -> (TemporaryBus, Git, String) {
        let bus = try TemporaryBus(settings: .testing, roles: ["planner"])
        let repo = bus.root + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        let git = Git(directory: repo)
        try await git.run(["init", "-q", "-b", "main"])
        try "start\n".write(toFile: repo + "/README", atomically: true, encoding: .utf8)
        _ = try await git.commitAll(message: "start", trailers: [])
        let side = try await git.addWorktree(
            at: bus.root + "/side", branch: RunMessages.integrationBranch("r1"), from: "main")
        try "ok\n".write(toFile: bus.root + "/side/ok.txt", atomically: true, encoding: .utf8)
        let head = try #require(try await side.commitAll(message: "work", trailers: []))
        try await git.removeWorktree(at: bus.root + "/side")
        return (bus, git, head)
    }

    func plan(_ repo: String, smoke: [Gate]) -> Plan {
        Plan(
            name: "p", goal: "g", risk: .low, repository: repo, smoke: smoke,
            tasks: [PlanTask(id: "a", title: "a", prompt: "a", scope: ["ok.txt"], run: "true")],
            file: repo + "/plan.yaml")
    }

    @Test("a failing smoke gate leaves the base branch where it was; passing ones fast-forward it")
    func smokeDecides() async throws {
        let (bus, git, head) = try await setUp()
        let start = try await git.commit(of: "main")
        let failing = plan(git.directory, smoke: [Gate(name: "broken", command: .shell("test -f missing.txt"))])
        let refused = try await RunMerge(plan: failing, run: "r1", layout: bus.bus.layout).merge()
        #expect(refused.merged == nil)
        #expect(refused.refusal?.contains("smoke gates failed: broken") == true)
        #expect(try await git.commit(of: "main") == start)

        let passing = plan(git.directory, smoke: [Gate(name: "present", command: .argv(["test", "-f", "ok.txt"]))])
        let done = try await RunMerge(plan: passing, run: "r1", layout: bus.bus.layout).merge()
        #expect(done.merged == head)
        #expect(done.gates.map(\.passed) == [true])
        #expect(try await git.commit(of: "main") == head)
        #expect(FileManager.default.fileExists(atPath: git.directory + "/ok.txt"))
    }

    @Test("a base branch that moved since the run is not fast-forwarded")
    func notFastForward() async throws {
        let (bus, git, _) = try await setUp()
        try "mine\n".write(toFile: git.directory + "/mine.txt", atomically: true, encoding: .utf8)
        let moved = try #require(try await git.commitAll(message: "mine", trailers: []))
        let outcome = try await RunMerge(plan: plan(git.directory, smoke: []), run: "r1", layout: bus.bus.layout)
            .merge()
        #expect(outcome.merged == nil)
        #expect(outcome.refusal?.contains("cannot be fast-forwarded") == true)
        #expect(try await git.commit(of: "main") == moved)
    }
}
