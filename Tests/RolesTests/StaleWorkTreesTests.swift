import Bus
import BusTesting
import Foundation
import Processes
import Testing

@testable import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// `planbus janitor` removing the builders' work trees that no claim or live builder owns.
@Suite("Stale work trees")
struct StaleWorkTreesTests {
    @Test("the janitor removes the work trees no claim or live builder owns, and keeps those they own")
    func janitorSweepsTrees() async throws {
        let temporary = try TemporaryBus(roles: ["builder", "planner"])
        let bus = temporary.bus
        let root = temporary.path + "-repo"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let git = Git(directory: root)
        try await git.run(["init", "-q", "-b", "main"])
        try "one\n".write(toFile: root + "/a.txt", atomically: true, encoding: .utf8)
        _ = try await git.commitAll(message: "start", trailers: [])
        let base = try await git.commit(of: "main")

        // The run's goal, as the planner took it: it names the repository.
        let sender = try WorkerID.current(role: "planner")
        let plan = PlanFolder.oneTaskPlan(repository: root)
        try Publisher(bus: bus, worker: sender).publish(
            Envelope(
                run: "r1", kind: RunMessages.goal, from: sender, to: "planner",
                body: ["plan_text": .string(plan), "plan_file": .string(root + "/plan.yaml")]))
        let planner = try RoleQueue(bus: bus, role: "planner", worker: sender)
        try planner.ack(try #require(try planner.claimNext()))
        #expect(try RunMessages.plan(of: "r1", layout: bus.layout).repository == root)

        // A build of t1, taken over: its claim is at epoch 2 now.
        let build = Envelope(
            run: "r1", task: "t1", kind: RunMessages.build, from: sender, to: "builder",
            body: ["repository": .string(root), "base": .string(base), "attempt": 1, "step": "true"])
        try Publisher(bus: bus, worker: sender).publish(build)
        let queue = try RoleQueue(bus: bus, role: "builder", worker: try WorkerID.current(role: "builder"))
        let first = try #require(try queue.claimNext())
        try queue.release(first, reason: "taken over")
        let claim = try #require(try queue.claimNext())
        #expect(claim.epoch == 2)

        let trees = bus.layout.run("r1") + "/trees"
        let owned = trees + "/t1.1.1.e2"
        let stale = trees + "/t1.1.1.e1"
        let bare = trees + "/t2.1.1.e1"
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/1", owned, base])
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/stale", stale, base])
        try FileManager.default.createDirectory(atPath: bare + "/sub", withIntermediateDirectories: true)
        // A tree whose folder is gone while git still records it.
        let recorded = trees + "/t3.1.1.e1"
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t3/1", recorded, base])
        try FileManager.default.removeItem(atPath: recorded)
        // A tree whose `git worktree add` was killed while writing its .git file: git keeps its
        // record locked, and refuses to remove it while its folder is there.
        let killed = trees + "/t4.1.1.e1"
        try await GitTests.leaveAddKilledWritingGitFile(git, at: killed)
        // The trees builders keep between builds: a live builder's, one on another host (judged
        // only after a lease of watching, so kept by a janitor that looked once), and one of a
        // builder whose process is gone.
        let child = try ChildProcess.spawn(["/bin/true"], stdout: .null, stderr: .null)
        #expect(await child.wait(timeout: .seconds(30)).exit == .exited(0))
        try #require(!ProcessInfo.exists(child.pid), "pid \(child.pid) was reused already")
        let liveBuilder = try WorkerID(role: "builder", host: Host.name, pid: getpid(), incarnation: "abcd0001")
        let remoteBuilder = try WorkerID(role: "builder", host: "another-host", pid: 4242, incarnation: "abcd0002")
        let deadBuilder = try WorkerID(role: "builder", host: Host.name, pid: child.pid, incarnation: "abcd0003")
        let live = trees + "/" + BuilderTrees.name(of: liveBuilder)
        let remote = trees + "/" + BuilderTrees.name(of: remoteBuilder)
        let dead = trees + "/" + BuilderTrees.name(of: deadBuilder)
        // And each one's second tree.
        #expect(BuilderTrees.names(of: deadBuilder) == [BuilderTrees.name(of: deadBuilder), "@\(deadBuilder)~2"])
        let (live2, remote2, dead2) = (live + "~2", remote + "~2", dead + "~2")
        for tree in [live, remote, dead, live2, remote2, dead2] {
            try await git.run(["worktree", "add", "--force", "--detach", tree, base])
        }

        let result = try await planbus("janitor", "--bus", temporary.path, "--json")
        #expect(result.code == 0, "\(result.stderr)")
        let removed = try JSONValue.parse(result.stdout)["stale_work_trees_removed"]?.arrayValue ?? []
        #expect(Set(removed.compactMap(\.stringValue)) == [stale, bare, recorded, killed, dead, dead2])
        #expect(FileManager.default.fileExists(atPath: live + "/a.txt"))
        #expect(FileManager.default.fileExists(atPath: remote + "/a.txt"))
        #expect(FileManager.default.fileExists(atPath: live2 + "/a.txt"))
        #expect(FileManager.default.fileExists(atPath: remote2 + "/a.txt"))
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(!FileManager.default.fileExists(atPath: dead2))
        #expect(!FileManager.default.fileExists(atPath: killed))
        #expect(!FileManager.default.fileExists(atPath: root + "/.git/worktrees/t4.1.1.e1"))
        #expect(FileManager.default.fileExists(atPath: owned + "/a.txt"))
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(!FileManager.default.fileExists(atPath: bare))
        let listed = try await git.run(["worktree", "list", "--porcelain"])
        #expect(listed.contains("worktree \(owned)"))
        #expect(!listed.contains("worktree \(stale)"))
        #expect(!listed.contains("worktree \(recorded)"))
        #expect(!listed.contains("worktree \(killed)"))
        #expect(!listed.contains("worktree \(dead)"))
        #expect(listed.contains("worktree \(live)"))
    }

    @Test("a claim that cannot be read could own any tree: nothing is removed")
    func unreadableClaimKeepsEverything() async throws {
        let temporary = try TemporaryBus(roles: ["builder"])
        let layout = temporary.bus.layout
        let tree = layout.run("r1") + "/trees/t1.1.1.e1"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let worker = try WorkerID.current(role: "builder")
        let claimName = QueueNames.claim(id: "1795316645678-000001-hostA-4242", epoch: 1, worker: worker)
        try "not an envelope".write(toFile: layout.cur("builder") + "/" + claimName, atomically: true, encoding: .utf8)
        #expect(
            await StaleWorkTrees(layout: layout, liveness: LivenessTracker(layout: layout, leaseMs: 15_000)).sweep()
                .isEmpty)
        #expect(FileManager.default.fileExists(atPath: tree))
    }
}
