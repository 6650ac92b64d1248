import Bus
import Foundation
import Processes

/// A run's integration branch, `planbus/<run>/integration`, moved only by compare-and-swap.
///
/// Every change to it is computed without a work tree (`git merge-tree --write-tree`, or a
/// temporary index) on the branch's current head, committed with `git commit-tree`, and applied
/// with `git update-ref <branch> <new> <head>`, which fails if another role moved the branch
/// meanwhile; the change is then redone on the new head. So verifiers integrating at once, and the
/// docs role writing changelog entries, never lose one another's commits.
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
            let head = try await git.commit(of: name)
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
            let merge = try await commitTree(tree, parents: [head, commit], message: message)
            if try await git.attempt(["update-ref", "refs/heads/" + name, merge, head]).succeeded {
                return .merged(merge)
            }
        }
        throw RoleError(.git, "the integration branch \(name) kept moving; could not integrate \(commit)")
    }

    /// Commits a new version of one file on the branch.
    ///
    /// - Parameters:
    ///   - path: The file, relative to the repository.
    ///   - message: The commit message.
    ///   - edit: Given the file's text at the head (or `nil` when it does not exist), its new text,
    ///     or `nil` to leave the branch as it is.
    /// - Returns: the new commit, or `nil` when `edit` changed nothing.
    public func commitFile(
        _ path: String, message: String, edit: (String?) -> String?
    ) async throws(RoleError) -> String? {
        for _ in 1...Self.rounds {
            let head = try await git.commit(of: name)
            let shown = try await git.attempt(["show", "\(head):\(path)"])
            guard let text = edit(shown.succeeded ? shown.stdout : nil) else { return nil }
            let scratch = NSTemporaryDirectory() + "planbus-\(FileOps.randomHex(8))"
            defer {
                try? FileManager.default.removeItem(atPath: scratch + ".blob")
                try? FileManager.default.removeItem(atPath: scratch + ".index")
            }
            do {
                try text.write(toFile: scratch + ".blob", atomically: false, encoding: .utf8)
            } catch {
                throw RoleError(.io, "cannot write \(scratch).blob: \(error)")
            }
            let blob = try await git.run(["hash-object", "-w", scratch + ".blob"])
            var environment = git.environment
            environment["GIT_INDEX_FILE"] = scratch + ".index"
            let index = Git(
                directory: git.directory, environment: environment, identity: git.identity, timeout: git.timeout)
            try await index.run(["read-tree", head])
            try await index.run(["update-index", "--add", "--cacheinfo", "100644,\(blob),\(path)"])
            let tree = try await index.run(["write-tree"])
            let commit = try await commitTree(tree, parents: [head], message: message)
            if try await git.attempt(["update-ref", "refs/heads/" + name, commit, head]).succeeded { return commit }
        }
        throw RoleError(.git, "the integration branch \(name) kept moving; could not commit \(path)")
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

    private func commitTree(_ tree: String, parents: [String], message: String) async throws(RoleError) -> String {
        try await git.run(
            [
                "-c", "user.name=\(git.identity.name)", "-c", "user.email=\(git.identity.email)", "commit-tree", tree,
            ] + parents.flatMap { ["-p", $0] } + ["-m", message])
    }
}
