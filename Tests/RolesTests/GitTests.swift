import BusTesting
import Foundation
import Processes
import Synchronization
import Testing

@testable import Roles

/// `Git` against real repositories made by the tests.
@Suite("Git")
struct GitTests {
    /// A fresh repository with one commit on `main`, in a temporary folder.
    func repository() async throws -> (root: String, git: Git) {
        let root = FileManager.default.temporaryDirectory.path + "/planbus-git-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root + "/repo", withIntermediateDirectories: true)
        let git = Git(directory: root + "/repo")
        try await git.run(["init", "-q", "-b", "main"])
        try "one\ntwo\n".write(toFile: root + "/repo/a.txt", atomically: true, encoding: .utf8)
        _ = try await git.commitAll(message: "start", trailers: [])
        return (root, git)
    }

    @Test("a worktree on its own branch, a commit with trailers, and its diff")
    func worktreeCommitDiff() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(await git.isWorkTree())
        let base = try await git.commit(of: "main")
        let tree = try await git.addWorktree(at: root + "/wt", branch: "planbus/r1/t1/1", from: "main")
        try "one\n2\nthree\n".write(toFile: root + "/wt/a.txt", atomically: true, encoding: .utf8)
        try "new\n".write(toFile: root + "/wt/b.txt", atomically: true, encoding: .utf8)
        let commit = try #require(
            try await tree.commitAll(message: "t1: change", trailers: [("Planbus-Run", "r1"), ("Planbus-Task", "t1")]))
        let body = try await git.run(["log", "-1", "--format=%B", commit])
        #expect(body.contains("Planbus-Run: r1"))
        #expect(body.contains("Planbus-Task: t1"))
        let diff = try await git.diff(from: base, to: commit)
        #expect(diff.paths == ["a.txt", "b.txt"])
        #expect(diff.insertions == 3)
        #expect(diff.deletions == 1)
        #expect(try await git.commit(of: "main") == base)
        // Nothing left to commit.
        #expect(try await tree.commitAll(message: "again", trailers: []) == nil)
        // The commit and its change read together match the commit and the diff read apart.
        try "x\n".write(toFile: root + "/wt/c.txt", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: root + "/wt/b.txt")
        let made = try #require(try await tree.commitAllWithChange(message: "more", trailers: []))
        #expect(made.commit == (try await tree.commit(of: "HEAD")))
        #expect(made.change == (try await git.diff(from: commit, to: made.commit)))
        #expect(made.change.paths == ["b.txt", "c.txt"])
        #expect(try await tree.commitAllWithChange(message: "again", trailers: []) == nil)
        try await git.removeWorktree(at: root + "/wt")
        #expect(!FileManager.default.fileExists(atPath: root + "/wt"))
        #expect(await git.branchExists("planbus/r1/t1/1"))
    }

    @Test("merges apply cleanly or report their conflicting paths and leave the branch as it was")
    func merges() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await git.createBranch("integration", at: "main")
        let integration = try await git.addWorktree(at: root + "/int", branch: "int-work", from: "integration")
        let left = try await git.addWorktree(at: root + "/left", branch: "left", from: "main")
        let right = try await git.addWorktree(at: root + "/right", branch: "right", from: "main")
        try "LEFT\ntwo\n".write(toFile: root + "/left/a.txt", atomically: true, encoding: .utf8)
        try "RIGHT\ntwo\n".write(toFile: root + "/right/a.txt", atomically: true, encoding: .utf8)
        let l = try #require(try await left.commitAll(message: "left", trailers: []))
        let r = try #require(try await right.commitAll(message: "right", trailers: []))
        guard case .merged(let merged) = try await integration.merge(l, message: "merge left") else {
            Issue.record("the first merge did not apply")
            return
        }
        let outcome = try await integration.merge(r, message: "merge right")
        guard case .conflict(let paths, let output) = outcome else {
            Issue.record("a conflicting merge applied: \(outcome)")
            return
        }
        #expect(paths == ["a.txt"])
        #expect(output.contains("CONFLICT"))
        #expect(try await integration.commit(of: "HEAD") == merged)
        #expect(try await integration.run(["status", "--porcelain"]).isEmpty)
    }

    @Test("fast-forward only: a branch moves to a descendant and refuses anything else")
    func fastForward() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let start = try await git.commit(of: "main")
        let side = try await git.addWorktree(at: root + "/side", branch: "side", from: "main")
        try "x\n".write(toFile: root + "/side/x.txt", atomically: true, encoding: .utf8)
        let ahead = try #require(try await side.commitAll(message: "x", trailers: []))
        try await git.createBranch("copy", at: start)
        try await git.fastForward("copy", to: ahead)
        #expect(try await git.commit(of: "copy") == ahead)
        do {
            try await git.fastForward("copy", to: start)
            Issue.record("moved a branch backwards")
        } catch {
            #expect(error.code == .git)
            #expect(error.message.contains("cannot be fast-forwarded"))
        }
        #expect(try await git.commit(of: "copy") == ahead)
    }

    @Test("a failing git command throws with git's own message")
    func failures() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            _ = try await git.commit(of: "no-such-branch")
            Issue.record("resolved a missing branch")
        } catch {
            #expect(error.code == .git)
        }
        let outside = Git(directory: root)
        #expect(await !outside.isWorkTree())
    }

    @Test("a work tree whose removal was killed midway (its .git file gone) is removed, and its branch can be reset")
    func interruptedRemoval() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tree = root + "/trees/t1.1.1.e1"
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/1", tree, "main"])
        // `git worktree remove` deletes the tree's .git file first: a holder killed right after
        // leaves the folder and what the repository records of it.
        try FileManager.default.removeItem(atPath: tree + "/.git")
        #expect(try await !git.attempt(["worktree", "remove", "--force", "--force", tree]).succeeded)

        try await git.removeWorktree(at: tree)
        #expect(!FileManager.default.fileExists(atPath: tree))
        let trees = try await git.run(["worktree", "list", "--porcelain"]).split(separator: "\n")
            .filter { $0.hasPrefix("worktree ") }
        #expect(trees.count == 1, "\(trees)")
        // The next holder's work tree takes the branch again.
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/1", root + "/trees/t1.1.1.e2", "main"])

        // A `git worktree add` killed while initializing: the tree stays locked, its folder gone.
        try await git.run(["worktree", "lock", "--reason", "initializing", root + "/trees/t1.1.1.e2"])
        try FileManager.default.removeItem(atPath: root + "/trees/t1.1.1.e2")
        try await git.removeWorktree(at: root + "/trees/t1.1.1.e2")
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/1", root + "/trees/t1.1.1.e3", "main"])
    }

    @Test(
        "a work tree's administrative folder half made by a killed git is removed once stale, so work trees can be added"
    )
    func halfMadeWorktree() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/1", root + "/trees/t1.1.1.e1", "main"])
        // A `git worktree add` killed after creating commondir and before writing it.
        let admin = root + "/repo/.git/worktrees/t1.1.1.e1"
        #expect(truncate(admin + "/commondir", 0) == 0)
        // Resetting a branch makes git read every work tree's folder (is the branch checked out?).
        try await git.run(["branch", "planbus/r1/t2/1", "main"])
        let next = ["worktree", "add", "--force", "-B", "planbus/r1/t2/1", root + "/trees/t2.1.1.e1", "main"]
        let plain = try await ProgramRun.run(["git", "-C", git.directory] + next)
        #expect(!plain.succeeded)
        #expect(plain.stderr.contains("worktrees/t1.1.1.e1/commondir"))

        let started = ContinuousClock.now
        let result = try await git.attempt(next)
        #expect(result.succeeded, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: admin))
        #expect(ContinuousClock.now - started >= GitLock.staleAfter)
        #expect(FileManager.default.fileExists(atPath: root + "/trees/t2.1.1.e1/.git"))
    }

    /// Leaves at `tree` what a `git worktree add` of `git`'s repository killed while writing the
    /// tree's `.git` file leaves: the administrative folder holds only `locked` ("initializing")
    /// and `gitdir` (no `HEAD`, `commondir` or index), the folder only an empty `.git` file. Git
    /// lists such a tree, detached at no commit and locked, and `git worktree remove` refuses it.
    static func leaveAddKilledWritingGitFile(_ git: Git, at tree: String) async throws {
        try await git.run(["worktree", "add", "--detach", tree, "main"])
        let admin = try #require(Worktree.administrativeFolder(of: tree))
        for name in try FileManager.default.contentsOfDirectory(atPath: admin) where name != "gitdir" {
            try FileManager.default.removeItem(atPath: admin + "/" + name)
        }
        try "initializing\n".write(toFile: admin + "/locked", atomically: false, encoding: .utf8)
        for name in try FileManager.default.contentsOfDirectory(atPath: tree) where name != ".git" {
            try FileManager.default.removeItem(atPath: tree + "/" + name)
        }
        #expect(truncate(tree + "/.git", 0) == 0)
        let listed = try await git.run(["worktree", "list", "--porcelain"])
        #expect(
            listed.contains(
                "worktree \(tree)\nHEAD \(String(repeating: "0", count: 40))\ndetached\nlocked initializing"))
        let plain = try await git.attempt(["worktree", "remove", "--force", "--force", tree])
        #expect(!plain.succeeded)
        #expect(plain.stderr.contains("is not a .git file"), "\(plain.stderr)")
    }

    @Test("a work tree whose add was killed while writing its .git file is removed, and git's locked record with it")
    func addKilledWritingGitFile() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tree = root + "/trees/t1.1.1.e1"
        try await Self.leaveAddKilledWritingGitFile(git, at: tree)
        let admin = root + "/repo/.git/worktrees/t1.1.1.e1"
        #expect(FileManager.default.fileExists(atPath: admin + "/locked"))

        try await git.removeWorktree(at: tree)
        #expect(!FileManager.default.fileExists(atPath: tree))
        // `git worktree prune` keeps a locked record whatever its folder: it is gone too.
        #expect(!FileManager.default.fileExists(atPath: admin))
        let trees = try await git.worktrees()
        #expect(trees.map(\.path) == [git.directory], "\(trees)")
        // The next holder's work tree is added under the same name.
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/1", root + "/trees/t1.1.1.e2", "main"])
        #expect(FileManager.default.fileExists(atPath: root + "/repo/.git/worktrees/t1.1.1.e2/commondir"))
        // An add killed once it wrote the .git file, before `HEAD` and `commondir`: git refuses
        // that folder too.
        let later = root + "/trees/t2.1.1.e1"
        try await git.run(["worktree", "add", "--detach", later, "main"])
        let laterAdmin = root + "/repo/.git/worktrees/t2.1.1.e1"
        for name in try FileManager.default.contentsOfDirectory(atPath: laterAdmin) where name != "gitdir" {
            try FileManager.default.removeItem(atPath: laterAdmin + "/" + name)
        }
        try "initializing\n".write(toFile: laterAdmin + "/locked", atomically: false, encoding: .utf8)
        #expect(try await !git.attempt(["worktree", "remove", "--force", "--force", later]).succeeded)
        try await git.removeWorktree(at: later)
        #expect(!FileManager.default.fileExists(atPath: later))
        #expect(!FileManager.default.fileExists(atPath: laterAdmin))
        #expect(try await git.worktrees().map(\.path) == [git.directory, root + "/trees/t1.1.1.e2"])
        // The repository itself is never taken for a dead work tree.
        await #expect(throws: RoleError.self) { try await git.removeWorktree(at: git.directory) }
        #expect(FileManager.default.fileExists(atPath: git.directory + "/a.txt"))
        // Nor is a repository whose .git is a file naming its own git folder (a submodule, or
        // one made with --separate-git-dir).
        let separate = root + "/separate"
        try await git.run(["init", "-q", "--separate-git-dir", root + "/separate.git", separate])
        try Data("kept\n".utf8).write(to: URL(fileURLWithPath: separate + "/kept.txt"))
        await #expect(throws: RoleError.self) { try await git.removeWorktree(at: separate) }
        #expect(FileManager.default.fileExists(atPath: separate + "/kept.txt"))
    }

    @Test("the roles' commits start no automatic maintenance, whose lock a killed role would leave for good")
    func noAutomaticMaintenance() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let trace = root + "/trace"
        var environment = Foundation.ProcessInfo.processInfo.environment
        environment["GIT_TRACE"] = trace
        // A configuration already passed through the environment is kept.
        environment["GIT_CONFIG_COUNT"] = "1"
        environment["GIT_CONFIG_KEY_0"] = "planbus.probe"
        environment["GIT_CONFIG_VALUE_0"] = "kept"
        let traced = Git(directory: git.directory, environment: environment)
        #expect(Git.withoutAutomaticMaintenance(traced.environment) == traced.environment)
        // A configuration that turns automatic maintenance on last is overridden, not kept.
        let on = ["GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "maintenance.auto", "GIT_CONFIG_VALUE_0": "true"]
        let off = Git.withoutAutomaticMaintenance(on)
        #expect(off["GIT_CONFIG_COUNT"] == "2" && off["GIT_CONFIG_VALUE_1"] == "false", "\(off)")
        #expect(Git.withoutAutomaticMaintenance(off) == off)
        #expect(try await traced.run(["config", "--get", "planbus.probe"]) == "kept")

        // Plain git, as a control: a commit starts `git maintenance run --auto`.
        try "three\n".write(toFile: git.directory + "/b.txt", atomically: true, encoding: .utf8)
        try await git.run(["add", "b.txt"])
        let plain = try await ProgramRun.run(
            ["git", "-C", git.directory, "-c", "user.name=x", "-c", "user.email=x@localhost", "commit", "-qm", "b"],
            environment: environment.merging(["GIT_CONFIG_COUNT": "0"]) { $1 })
        #expect(plain.succeeded, "\(plain.stderr)")
        #expect(try String(contentsOfFile: trace, encoding: .utf8).contains("maintenance run --auto"))

        try FileManager.default.removeItem(atPath: trace)
        try "four\n".write(toFile: git.directory + "/c.txt", atomically: true, encoding: .utf8)
        #expect(try await traced.commitAll(message: "c", trailers: []) != nil)
        let log = try String(contentsOfFile: trace, encoding: .utf8)
        #expect(log.contains("commit"))
        #expect(!log.contains("maintenance"), "\(log)")
    }

    @Test("a work tree folder whose record git no longer has is removed like a work tree")
    func unrecordedWorktree() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tree = root + "/trees/t1.1.1.e1"
        try await git.run(["worktree", "add", "--force", "-B", "planbus/r1/t1/1", tree, "main"])
        // Its administrative folder removed (half made, then cleaned up): git no longer knows it.
        try FileManager.default.removeItem(atPath: root + "/repo/.git/worktrees/t1.1.1.e1")
        #expect(FileManager.default.fileExists(atPath: tree + "/.git"))
        #expect(try await !git.attempt(["worktree", "remove", "--force", "--force", tree]).succeeded)
        try await git.removeWorktree(at: tree)
        #expect(!FileManager.default.fileExists(atPath: tree))
    }

    @Test("a ref lock left by a killed git is removed once stale, and the command runs again")
    func staleLock() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let head = try await git.commit(of: "main")
        let lock = root + "/repo/.git/refs/heads/side.lock"
        try "\(head)\n".write(toFile: lock, atomically: false, encoding: .utf8)
        // Its modification time says nothing: a file server's clock may be far ahead of this one.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(3_600)], ofItemAtPath: lock)
        let started = ContinuousClock.now
        try await git.run(["update-ref", "refs/heads/side", head])
        #expect(try await git.commit(of: "side") == head)
        #expect(!FileManager.default.fileExists(atPath: lock))
        // Removed only once seen unchanged for the whole time.
        #expect(ContinuousClock.now - started >= GitLock.staleAfter)
    }

    @Test("a lock file that keeps changing is never removed: the command gives up and says why")
    func liveLock() async throws {
        let (root, git) = try await repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let head = try await git.commit(of: "main")
        let lock = root + "/repo/.git/refs/heads/side.lock"
        let stop = Mutex(false)
        // A live git taking the lock again and again: each time a new file.
        let holder = Thread {
            var round = 0
            while !stop.withLock({ $0 }) {
                try? "\(round)\n".write(toFile: lock, atomically: true, encoding: .utf8)
                round += 1
                usleep(200_000)
            }
        }
        holder.start()
        defer { stop.withLock { $0 = true } }
        #expect(await eventually { FileManager.default.fileExists(atPath: lock) })
        let result = try await git.attempt(["update-ref", "refs/heads/side", head])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("side.lock"))
        #expect(FileManager.default.fileExists(atPath: lock))
    }
}
