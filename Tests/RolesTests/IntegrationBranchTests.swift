import BusTesting
import Foundation
import Processes
import Testing

@testable import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// The integration branch, moved by compare-and-swap without work trees.
@Suite("Integration branch")
struct IntegrationBranchTests {
    @Test("a merge, the same merge asked again after a crash, a conflict, and a one-file commit")
    func mergeAgainConflictAndFile() async throws {
        let root = FileManager.default.temporaryDirectory.path + "/planbus-ib-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let git = try await Git.create(at: root, files: [("a.txt", "one\n")], message: "start")
        try await git.createBranch(RunMessages.integrationBranch("r"), at: "main")
        let branch = IntegrationBranch(run: "r", git: git)

        let side = try await git.addWorktree(at: root + "-wt", branch: "side", from: "main")
        defer { try? FileManager.default.removeItem(atPath: root + "-wt") }
        try "two\n".write(toFile: root + "-wt/b.txt", atomically: true, encoding: .utf8)
        let change = try #require(try await side.commitAll(message: "b", trailers: []))

        guard case .merged(let merge) = try await branch.merge(change, message: "Integrate b") else {
            Issue.record("expected a merge")
            return
        }
        #expect(try await git.commit(of: branch.name) == merge)
        #expect(try await git.run(["show", "\(branch.name):b.txt"]) == "two")
        // Asked again (the envelope redelivered after the merge, before the ack): the same merge.
        #expect(try await branch.merge(change, message: "Integrate b", again: true) == .merged(merge))
        #expect(try await git.commit(of: branch.name) == merge)

        // A change to the same line as one already integrated conflicts, and nothing moves.
        try "uno\n".write(toFile: root + "-wt/a.txt", atomically: true, encoding: .utf8)
        let first = try #require(try await side.commitAll(message: "a1", trailers: []))
        _ = try await branch.merge(first, message: "Integrate a1")
        let head = try await git.commit(of: branch.name)
        try await side.run(["reset", "-q", "--hard", "main"])
        try "eins\n".write(toFile: root + "-wt/a.txt", atomically: true, encoding: .utf8)
        let clash = try #require(try await side.commitAll(message: "a2", trailers: []))
        guard case .conflict(let paths, _) = try await branch.merge(clash, message: "Integrate a2") else {
            Issue.record("expected a conflict")
            return
        }
        #expect(paths == ["a.txt"])
        #expect(try await git.commit(of: branch.name) == head)

        // A commit made on a head the branch has left is refused, and the branch stays.
        let parent = try await git.run(["rev-parse", head + "^"])
        let stale =
            "commit refs/heads/\(branch.name)\nmark :1\ncommitter \(IntegrationBranch.signature(git.identity))\n"
            + IntegrationBranch.data("stale") + "from \(parent)\nmerge \(clash)\nget-mark :1\n"
        #expect(try await branch.apply(stale, what: "a stale merge") == nil)
        #expect(try await git.commit(of: branch.name) == head)
        // The head is read from the loose ref (a git that cannot run is not needed for it), and
        // from git once the refs are packed.
        var noGit = git.environment
        noGit["PATH"] = root + "/no-such-folder"
        let offline = IntegrationBranch(run: "r", git: Git(directory: root, environment: noGit))
        #expect(try await offline.head() == head)
        #expect(try await branch.head() == head)
        try await git.run(["pack-refs", "--all"])
        #expect(!FileManager.default.fileExists(atPath: root + "/.git/refs/heads/" + branch.name))
        await #expect(throws: RoleError.self) { try await offline.head() }
        #expect(try await branch.head() == head)

        // One file committed on the branch; the same edit again commits nothing.
        let written = try await branch.commitFile("NOTES", message: "notes") { old in
            old == nil ? "n\n" : nil
        }
        #expect(written != nil)
        #expect(try await git.run(["show", "\(branch.name):NOTES"]) == "n")
        #expect(try await branch.commitFile("NOTES", message: "notes") { old in old == nil ? "n\n" : nil } == nil)
    }

    @Test(
        "a one-file commit keeps the text byte for byte at any path, is redone on a branch that moved, and refuses a bad path"
    )
    func fileCommits() async throws {
        let root = FileManager.default.temporaryDirectory.path + "/planbus-ibf-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let git = try await Git.create(at: root, files: [("a.txt", "one\n")], message: "start")
        let branch = IntegrationBranch(run: "r", git: git)
        // No branch yet: a clear failure.
        await #expect(throws: RoleError.self) { try await branch.commitFile("NOTES", message: "m") { _ in "x" } }
        try await git.createBranch(branch.name, at: "main")

        // A nested path with a space, a quote and a backslash; text without a final newline.
        let path = "docs/deep/notes \"1\" \\ é.md"
        let text = "première ligne\n\tsecond line with \"quotes\""
        let written = try #require(
            try await branch.commitFile(path, message: "Notes\n\nPlanbus-Run: r") { old in
                #expect(old == nil)
                return text
            })
        #expect(try await git.commit(of: branch.name) == written)
        let blob = try await git.attempt(["cat-file", "blob", "\(branch.name):\(path)"])
        #expect(blob.output == Array(text.utf8))
        #expect(try await git.run(["rev-parse", written + "^"]) == git.commit(of: "main"))
        #expect(
            try await git.run(["show", "-s", "--format=%an <%ae>|%cn <%ce>|%B", written])
                == "planbus <planbus@localhost>|planbus <planbus@localhost>|Notes\n\nPlanbus-Run: r")
        // The commit's time is now, with this host's offset from UTC.
        let stamp = try await git.run(["show", "-s", "--format=%ct %cd", "--date=format:%z", written])
        let (seconds, zone) = (Int(stamp.prefix { $0 != " " }) ?? 0, stamp.drop { $0 != " " }.dropFirst())
        #expect(abs(seconds - Int(Date().timeIntervalSince1970)) < 600)
        #expect(zone.count == 5 && (zone.first == "+" || zone.first == "-") && zone.dropFirst().allSatisfy(\.isNumber))
        #expect(
            IntegrationBranch.signature(("a<b>", "c\n@d"), at: 1_700_000_000).hasPrefix("ab <c@d> 1700000000 "))
        #expect(try await git.run(["show", "\(branch.name):a.txt"]) == "one")

        // The branch moves between the read and the write: the edit is made again on the new head,
        // and the commit keeps what the other writer added.
        let head = try await git.commit(of: branch.name)
        let other = try #require(try await branch.commitFile("OTHER", message: "other") { _ in "other\n" })
        let otherRef = try await git.run(["rev-parse", "--git-common-dir"])
        try await git.run(["update-ref", "refs/heads/" + branch.name, head, other])
        var calls: [String?] = []
        let moved = try #require(
            try await branch.commitFile(path, message: "again") { old in
                calls.append(old)
                if calls.count == 1 {
                    // Another writer moves the branch on: as git would, by rewriting its ref.
                    let ref = root + "/" + otherRef + "/refs/heads/" + branch.name
                    try? (other + "\n").write(toFile: ref, atomically: true, encoding: .utf8)
                }
                return (old ?? "") + "\nmore"
            })
        #expect(calls == [text, text])
        #expect(try await git.run(["rev-parse", moved + "^"]) == other)
        #expect(try await git.run(["show", "\(branch.name):OTHER"]) == "other")
        #expect(try await git.run(["show", "\(branch.name):\(path)"]) == text + "\nmore")

        // A path that is no file of the repository, or names a folder at the head.
        for bad in [
            "", "/etc/passwd", "a\nb", "a\rb", "\"quoted\"", "docs/deep", "./y", "a/../b", ".git/config", "x/.GIT/y",
            "x/", "a//b",
        ] {
            let error = await #expect(throws: RoleError.self) {
                try await branch.commitFile(bad, message: "m") { _ in "x" }
            }
            #expect(error?.code == .invalidRequest, "\(bad.debugDescription): \(String(describing: error))")
        }
        #expect(try await git.commit(of: branch.name) == moved)
        // fast-import was never given a path it would stop on: it left no crash report.
        #expect(
            !((try? FileManager.default.contentsOfDirectory(atPath: root + "/.git")) ?? []).contains {
                $0.hasPrefix("fast_import_crash")
            })
    }

    @Test("changes take turns on a repository: each runs holding its lock, and goes ahead past its patience")
    func turns() async throws {
        let root = FileManager.default.temporaryDirectory.path + "/planbus-ibt-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await Git.create(at: root, files: [("a.txt", "one\n")], message: "start")
        // Whether another open file of the repository's .git folder can take the lock now.
        func free() -> Bool {
            let descriptor = open(root + "/.git", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { close(descriptor) }
            return descriptor >= 0 && flock(descriptor, LOCK_EX | LOCK_NB) == 0
        }
        #expect(free())
        let inside = try await IntegrationTurn.taking(repository: root) { () async throws(RoleError) -> Bool in free() }
        #expect(inside == false)
        #expect(free())

        // Another process keeps the turn: past the patience, the change goes ahead without it.
        let holder = try ChildProcess.spawn(
            [
                "/usr/bin/flock", root + "/.git", "-c",
                "touch '\(root)/held'; while [ ! -e '\(root)/release' ]; do sleep 0.05; done",
            ], stdout: .null, stderr: .null, killsGroupOnExit: true)
        #expect(await eventually { FileManager.default.fileExists(atPath: root + "/held") })
        #expect(!free())
        let ran = try await IntegrationTurn.taking(repository: root, patience: .milliseconds(100)) {
            () async throws(RoleError) -> Bool in !free()
        }
        #expect(ran)
        #expect(FileManager.default.createFile(atPath: root + "/release", contents: Data()))
        #expect(await holder.wait(timeout: .seconds(60)).exit == .exited(0))
        #expect(free())
        // A repository whose .git cannot be opened as a folder: no turn, the change runs all the same.
        #expect(
            try await IntegrationTurn.taking(repository: root + "/missing") { () async throws(RoleError) in 7 } == 7)
    }

    @Test("fast-import's words for a branch that moved on are told from its other failures")
    func branchMovedMessages() {
        // git 2.39's messages, in the C locale the roles run git in.
        #expect(
            IntegrationBranch.branchMoved(
                "warning: Not updating refs/heads/planbus/r/integration (new tip 1a2b does not contain 3c4d)\n"))
        #expect(
            IntegrationBranch.branchMoved(
                "error: cannot lock ref 'refs/heads/planbus/r/integration': is at 1a2b but expected 3c4d\n"))
        #expect(!IntegrationBranch.branchMoved("fatal: Unsupported command: M100644\n"))
        #expect(!IntegrationBranch.branchMoved("fatal: Empty path component found in input\n"))
        #expect(IntegrationBranch.isFilePath("CHANGELOG.md") && IntegrationBranch.isFilePath("docs/a b/\\x.md"))
    }
}
