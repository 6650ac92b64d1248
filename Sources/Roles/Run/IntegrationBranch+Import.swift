import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

extension IntegrationBranch {
    /// Runs one `git fast-import` of `stream`, which makes a commit on the branch whose only
    /// parent is the head the caller read, and ends with `get-mark` of that commit.
    ///
    /// fast-import also runs `git unpack-objects` to keep the few objects it wrote loose, so this
    /// costs two processes: less than the six a blob, a tree and a commit take one by one, more
    /// than the two a merge's commit takes (`commit-tree`, `update-ref`), which is why merges do not
    /// use it.
    ///
    /// fast-import moves the branch only to a commit that contains the branch's current head, and
    /// only if the branch has not moved between its look and its update. With the head read as the
    /// commit's only parent, and a branch that only ever moves forward (every change to it is a
    /// commit on its head), that is a compare-and-swap against the head read: a branch that moved
    /// on is not contained in the new commit.
    /// - Returns: the new commit, or `nil` when the branch had moved on (the caller redoes its
    ///   change on the new head).
    /// - Throws: ``RoleError`` `git` when fast-import fails otherwise, or prints no commit.
    func apply(_ stream: String, what: String) async throws(RoleError) -> String? {
        let imported = try await git.attempt(["fast-import", "--quiet", "--date-format=raw"], input: stream)
        guard imported.succeeded else {
            if Self.branchMoved(imported.stderr) { return nil }
            throw RoleError(
                .git,
                "git fast-import of \(what) on \(name) failed: "
                    + imported.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let commit = imported.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard commit.count >= 40, commit.allSatisfy(\.isHexDigit) else {
            throw RoleError(
                .git, "git fast-import of \(what) on \(name) printed no commit: \(imported.stdout.prefix(200))")
        }
        return commit
    }

    /// True when fast-import's `stderr` says it left the branch because the branch had moved on:
    /// before it looked (`Not updating … does not contain …`), or between its look and its update
    /// (`cannot lock ref …: is at … but expected …`).
    static func branchMoved(_ stderr: String) -> Bool {
        stderr.contains("Not updating refs/heads/") || stderr.contains("but expected")
    }

    /// A fast-import `data` command holding `string`.
    static func data(_ string: String) -> String { "data \(string.utf8.count)\n" + string + "\n" }

    /// `Name <email> <seconds> <zone>` for now, in this host's time zone; `<`, `>` and newlines
    /// are dropped from the name and email.
    static func signature(_ identity: (name: String, email: String), at seconds: Int = Int(time(nil))) -> String {
        func clean(_ text: String) -> String { text.filter { !"<>\n\r".contains($0) } }
        var clock = time_t(seconds)
        var parts = tm()
        localtime_r(&clock, &parts)
        let offset = parts.tm_gmtoff / 60
        let zone = (offset < 0 ? "-" : "+") + String(format: "%02ld%02ld", abs(offset) / 60, abs(offset) % 60)
        return "\(clean(identity.name)) <\(clean(identity.email))> \(seconds) \(zone)"
    }
}
