import Foundation

/// A work tree git records for a repository, as `git worktree list --porcelain` gives it.
public struct Worktree: Sendable, Equatable {
    /// Its folder (which may be gone).
    public var path: String
    /// The branch checked out there, without `refs/heads/`; `nil` when detached.
    public var branch: String?

    /// Reads the records of `git worktree list --porcelain`: one block per tree, blocks separated
    /// by an empty line, each starting `worktree <path>`.
    static func parse(porcelain text: String) -> [Worktree] {
        text.components(separatedBy: "\n\n").compactMap { block in
            let lines = block.split(separator: "\n")
            guard let path = lines.first(where: { $0.hasPrefix("worktree ") })?.dropFirst("worktree ".count) else {
                return nil
            }
            let branch = lines.first { $0.hasPrefix("branch refs/heads/") }?.dropFirst("branch refs/heads/".count)
            return Worktree(path: String(path), branch: branch.map(String.init))
        }
    }
}

extension Git {
    /// The work trees git records for the repository, its main one first.
    /// - Throws: ``RoleError`` `git` when git fails.
    public func worktrees() async throws(RoleError) -> [Worktree] {
        Worktree.parse(porcelain: try await run(["worktree", "list", "--porcelain"]))
    }
}
