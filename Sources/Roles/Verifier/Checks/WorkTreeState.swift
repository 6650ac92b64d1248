import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a work tree holds beyond its commit, so two moments can be compared: the `HEAD` commit,
/// and a fingerprint of every path `git status` reports (modified, added, deleted or untracked
/// but not ignored).
///
/// Two states differ at a path when its content, kind or executable bit changed, when it became
/// dirty or clean, or when `HEAD` moved and the path differs between the two commits. A gate that
/// edits a file and commits it is caught by the last rule. Ignored files are not seen.
struct WorkTreeState: Sendable, Equatable {
    /// The `HEAD` commit, or `nil` in a repository without commits.
    var head: String?
    /// The fingerprint of each path `git status` reports, relative to the top of the work tree.
    var entries: [String: String]

    /// The fingerprint of a path that is not in the work tree.
    static let missing = "-"
    /// The id of git's empty tree, to compare against when there was no commit.
    static let emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

    /// The state of the work tree `git` runs in, whose top folder is `root`.
    /// - Throws: ``RoleError`` `git` when git fails, such as outside a work tree.
    static func take(_ git: Git, root: String) async throws(RoleError) -> WorkTreeState {
        let head = try? await git.commit(of: "HEAD")
        let status = try await git.output([
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=none",
        ])
        var paths: [String] = []
        for record in status.split(separator: 0) where record.count > 3 {
            paths.append(String(decoding: record.dropFirst(3), as: UTF8.self))
        }
        var entries: [String: String] = [:]
        var regular: [String] = []
        for path in paths {
            var info = stat()
            guard lstat(root + "/" + path, &info) == 0 else {
                entries[path] = missing
                continue
            }
            let executable = (info.st_mode & 0o111) != 0 ? "x" : ""
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                regular.append(path)
                entries[path] = executable
            case S_IFLNK:
                entries[path] =
                    "link:" + ((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + path)) ?? "?")
            case S_IFDIR: entries[path] = "dir"
            default: entries[path] = "other"
            }
        }
        // Content ids of the regular files, a batch at a time to keep command lines short.
        var index = 0
        while index < regular.count {
            let batch = Array(regular[index..<min(index + 500, regular.count)])
            index += batch.count
            let ids = try await git.run(["hash-object", "--no-filters", "--"] + batch.map { root + "/" + $0 })
                .split(separator: "\n")
            guard ids.count == batch.count else {
                throw RoleError(.git, "git hash-object gave \(ids.count) ids for \(batch.count) files in \(root)")
            }
            for (path, id) in zip(batch, ids) { entries[path] = (entries[path] ?? "") + "blob:" + id }
        }
        return WorkTreeState(head: head, entries: entries)
    }

    /// The paths that differ between this state and `later`, sorted.
    /// - Throws: ``RoleError`` `git` when the commits cannot be compared.
    func changedPaths(to later: WorkTreeState, git: Git) async throws(RoleError) -> [String] {
        var changed = Set<String>()
        for path in Set(entries.keys).union(later.entries.keys) where entries[path] != later.entries[path] {
            changed.insert(path)
        }
        if head != later.head {
            let names = try await git.output([
                "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", head ?? Self.emptyTree,
                later.head ?? Self.emptyTree,
            ])
            for name in names.split(separator: 0) { changed.insert(String(decoding: name, as: UTF8.self)) }
        }
        return changed.sorted()
    }
}
