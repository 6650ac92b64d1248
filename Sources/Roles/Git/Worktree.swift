import Foundation

/// A work tree git records for a repository, as `git worktree list --porcelain` gives it.
public struct Worktree: Sendable, Equatable {
    /// Its folder (which may be gone).
    public var path: String
    /// The branch checked out there, without `refs/heads/`; `nil` when detached.
    public var branch: String?

    /// The administrative folder a work tree's `.git` file names (`gitdir: <folder>`), when that
    /// file reads so and the folder holds what git needs to take it for a repository (`HEAD` and
    /// `commondir`, neither empty); `nil` otherwise: no `.git` file, an empty or cut-short one (a
    /// `git worktree add` killed while writing it), a `.git` folder (a repository's own work
    /// tree, not a linked one), or one naming a folder that is gone or half made (an add killed
    /// before it wrote `HEAD` or `commondir`). Git refuses to remove a work tree in any of these
    /// states while its folder exists.
    static func administrativeFolder(of tree: String) -> String? {
        guard let folder = gitFileTarget(of: tree) else { return nil }
        for file in ["HEAD", "commondir"] {
            guard let contents = FileManager.default.contents(atPath: folder + "/" + file), !contents.isEmpty else {
                return nil
            }
        }
        return folder
    }

    /// True when the `.git` file of `tree` names a repository's own git folder (one with `HEAD`
    /// and `objects/` but no `commondir`: a submodule, or a repository made with
    /// `--separate-git-dir`), which no work-tree clean-up may remove.
    static func namesRepository(_ tree: String) -> Bool {
        guard let folder = gitFileTarget(of: tree) else { return false }
        let files = FileManager.default
        return files.fileExists(atPath: folder + "/HEAD") && files.fileExists(atPath: folder + "/objects")
            && !files.fileExists(atPath: folder + "/commondir")
    }

    /// The folder a `.git` file names (`gitdir: <folder>`, relative to `tree` when not absolute);
    /// `nil` when `tree/.git` is not such a file.
    private static func gitFileTarget(of tree: String) -> String? {
        guard let data = FileManager.default.contents(atPath: tree + "/.git"),
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            text.hasPrefix("gitdir: ")
        else { return nil }
        let folder = String(text.dropFirst("gitdir: ".count))
        return folder.hasPrefix("/") ? folder : tree + "/" + folder
    }

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
