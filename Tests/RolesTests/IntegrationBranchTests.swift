import Foundation
import Roles
import Testing

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

        // One file committed on the branch; the same edit again commits nothing.
        let written = try await branch.commitFile("NOTES", message: "notes") { old in
            old == nil ? "n\n" : nil
        }
        #expect(written != nil)
        #expect(try await git.run(["show", "\(branch.name):NOTES"]) == "n")
        #expect(try await branch.commitFile("NOTES", message: "notes") { old in old == nil ? "n\n" : nil } == nil)
    }
}
