import Bus
import Foundation
import Processes

/// A run's integration branch, `planbus/<run>/integration`, moved only by compare-and-swap.
///
/// Every change to it is computed without a work tree on the branch's current head and applied
/// only if the branch is still there. A merge's tree is made with `git merge-tree --write-tree`,
/// its commit with `git commit-tree`, and the branch moved with `git update-ref <branch> <new>
/// <head>`; a one-file commit (``commitFile(_:message:edit:)``) is made and applied by one
/// `git fast-import` (``apply(_:what:)``), which moves the branch only to a commit that contains
/// its current head. Either refuses if another role moved the branch meanwhile, and the change is
/// then redone on the new head. So verifiers integrating at once, and the docs role writing
/// changelog entries, never lose one another's commits. The processes of one host take turns
/// (``IntegrationTurn``), so that they seldom have to redo a change.
public struct IntegrationBranch: Sendable {
    /// The most times a change is redone on a moved head before giving up.
    public static let rounds = 20

    public let run: String
    public let git: Git

    public init(run: String, git: Git) {
        self.run = run
        self.git = git
    }

    /// The branch's name.
    public var name: String { RunMessages.integrationBranch(run) }

    /// Merges `commit` into the branch with a merge commit.
    /// - Parameters:
    ///   - commit: The commit to integrate.
    ///   - message: The merge commit's message.
    ///   - again: True when this may be a second try of a merge that already happened (the same
    ///     envelope handled again after a crash): if the branch already merged `commit`, that
    ///     merge is returned and nothing moves.
    /// - Returns: the merge commit, or the conflicting paths with git's messages (nothing moves).
    /// - Throws: ``RoleError`` `git` when git fails, or the branch kept moving.
    public func merge(_ commit: String, message: String, again: Bool = false) async throws(RoleError) -> MergeOutcome {
        try Git.revision(commit)
        if again, let merged = try await existingMerge(of: commit) { return .merged(merged) }
        for _ in 1...Self.rounds {
            let outcome = try await IntegrationTurn.taking(repository: git.directory) {
                () async throws(RoleError) -> MergeOutcome? in try await mergeOnce(commit, message: message)
            }
            if let outcome { return outcome }
        }
        throw RoleError(.git, "the integration branch \(name) kept moving; could not integrate \(commit)")
    }

    /// One try of ``merge(_:message:again:)`` on the head read now; `nil` when the branch moved
    /// before the swap.
    private func mergeOnce(_ commit: String, message: String) async throws(RoleError) -> MergeOutcome? {
        let head = try await self.head()
        let result = try await git.attempt(["merge-tree", "--write-tree", "--name-only", head, commit])
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let tree = lines.first, !tree.isEmpty else {
            throw RoleError(.git, "git merge-tree \(head) \(commit) failed: \(result.stderr)")
        }
        if result.exit != .exited(0) {
            guard result.exit == .exited(1) else {
                throw RoleError(.git, "git merge-tree \(head) \(commit) failed: \(result.stderr)")
            }
            let rest = lines.dropFirst()
            let paths = Array(rest.prefix { !$0.isEmpty })
            let messages = rest.drop { !$0.isEmpty }.joined(separator: "\n")
            return .conflict(paths, output: messages.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let merge = try await git.run(
            [
                "-c", "user.name=\(git.identity.name)", "-c", "user.email=\(git.identity.email)", "commit-tree",
                tree,
                "-p", head, "-p", commit, "-m", message,
            ])
        return try await git.attempt(["update-ref", "refs/heads/" + name, merge, head]).succeeded ? .merged(merge) : nil
    }

    /// The commit the branch is at: read from its loose ref file when there is one
    /// (`<repository>/.git/refs/heads/<branch>`, which git replaces by rename, so it is read whole),
    /// else from `git rev-parse`. A value read just before another role moves the branch is
    /// harmless: the change made on it is refused by the compare-and-swap and made again.
    /// - Throws: ``RoleError`` `git` when the branch does not exist.
    func head() async throws(RoleError) -> String {
        let file = git.directory + "/.git/refs/heads/" + name
        if let data = FileManager.default.contents(atPath: file), data.count <= 80 {
            let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if id.count == 40 || id.count == 64, id.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) { return id }
        }
        return try await git.commit(of: name)
    }

    /// The merge on the branch's first-parent line whose second parent is `commit`, if any.
    func existingMerge(of commit: String) async throws(RoleError) -> String? {
        let full = try await git.run(["rev-parse", "--verify", commit + "^{commit}"])
        guard try await git.attempt(["merge-base", "--is-ancestor", full, name]).succeeded else { return nil }
        for line in try await git.run(["rev-list", "--first-parent", "--parents", name]).split(separator: "\n") {
            let ids = line.split(separator: " ")
            if ids.count >= 3, ids[2] == full { return String(ids[0]) }
        }
        return nil
    }
}
