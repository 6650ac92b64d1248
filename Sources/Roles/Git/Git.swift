import Foundation
import Processes

/// Runs git in one repository or work tree, for the roles: worktrees, branches, commits, diffs,
/// merges.
///
/// Every call is a `git` process (no library), run with `GIT_TERMINAL_PROMPT=0` and the C
/// locale, in its own process group, killed at its time limit. A failure throws ``RoleError``
/// `git` with git's own message.
public struct Git: Sendable {
    /// The work tree git runs in (`git -C`).
    public let directory: String
    /// The environment of every git process: the one given, with no terminal prompt, the C
    /// locale, and `maintenance.auto` off (``withoutAutomaticMaintenance(_:)``).
    public let environment: [String: String]
    /// The name and email commits are made with, when git has none configured.
    public let identity: (name: String, email: String)
    /// The longest a git command may take.
    public let timeout: Duration

    public init(
        directory: String, environment: [String: String] = Foundation.ProcessInfo.processInfo.environment,
        identity: (name: String, email: String) = ("planbus", "planbus@localhost"), timeout: Duration = .seconds(300)
    ) {
        var env = environment
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["LC_ALL"] = "C"
        self.directory = directory
        env = Self.withoutAutomaticMaintenance(env)
        self.environment = env
        self.identity = identity
        self.timeout = timeout
    }

    /// `environment` with `maintenance.auto` set to false for the git processes it is given to
    /// (through `GIT_CONFIG_COUNT`, after any configuration already passed so).
    ///
    /// A commit or a merge otherwise starts `git maintenance run --auto`, which holds
    /// `objects/maintenance.lock` while it runs: killed with its role, it leaves the lock behind,
    /// and git's automatic maintenance of the repository then never runs again (it skips a locked
    /// repository without a word). The repository's own git commands still run it.
    static func withoutAutomaticMaintenance(_ environment: [String: String]) -> [String: String] {
        var env = environment
        let count = Int(env["GIT_CONFIG_COUNT"] ?? "") ?? 0
        let last = count - 1
        if count > 0, env["GIT_CONFIG_KEY_\(last)"] == "maintenance.auto", env["GIT_CONFIG_VALUE_\(last)"] == "false" {
            return env
        }
        env["GIT_CONFIG_KEY_\(count)"] = "maintenance.auto"
        env["GIT_CONFIG_VALUE_\(count)"] = "false"
        env["GIT_CONFIG_COUNT"] = "\(count + 1)"
        return env
    }

    /// Makes a repository at `path` (created if missing) whose branch `branch` has one commit
    /// holding `files` (paths relative to the repository, and their text).
    /// - Throws: ``RoleError`` `io` when a file cannot be written, `git` when git fails or the
    ///   commit records nothing.
    public static func create(
        at path: String, files: [(path: String, text: String)], message: String, branch: String = "main"
    ) async throws(RoleError) -> Git {
        do {
            for (file, text) in files {
                let full = path + "/" + file
                try FileManager.default.createDirectory(
                    atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: full, atomically: true, encoding: .utf8)
            }
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RoleError(.io, "cannot write the files of the repository \(path): \(error.localizedDescription)")
        }
        let git = Git(directory: path)
        try await git.run(["init", "-q", "-b", branch])
        guard try await git.commitAll(message: message, trailers: []) != nil else {
            throw RoleError(.git, "the first commit of \(path) recorded nothing")
        }
        return git
    }

    /// The same repository seen from another work tree.
    public func at(_ directory: String) -> Git {
        Git(directory: directory, environment: environment, identity: identity, timeout: timeout)
    }

    /// Runs `git -C <directory> <arguments>` and returns its standard output without the final
    /// newline; `input`, when given, is its standard input.
    /// - Throws: ``RoleError`` `git` when git cannot start, times out or fails.
    @discardableResult
    public func run(_ arguments: [String], input: String? = nil) async throws(RoleError) -> String {
        let run = try await attempt(arguments, input: input)
        guard run.succeeded else {
            let what = run.timedOut ? "timed out after \(timeout)" : "failed (\(run.exit!))"
            let said = (run.stderr.isEmpty ? run.stdout : run.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RoleError(.git, "git \(arguments.joined(separator: " ")) in \(directory) \(what): \(said)")
        }
        let stdout = run.stdout
        return stdout.hasSuffix("\n") ? String(stdout.dropLast()) : stdout
    }

    /// Runs git (with `input` as its standard input, when given) and returns the whole result,
    /// whatever its exit status, each output cut at `outputLimit` bytes.
    /// - Throws: ``RoleError`` `git` only when git cannot be started.
    /// A lock file, or a work tree's half-made administrative folder, left by a git that was
    /// killed is removed once stale, and the command run again (``GitLock``).
    public func attempt(
        _ arguments: [String], input: String? = nil, outputLimit: Int = 1 << 20
    ) async throws(RoleError) -> ProgramRun {
        var watch = GitLock.Watch()
        while true {
            let result: ProgramRun
            do {
                result = try await ProgramRun.run(
                    ["git", "-C", directory] + arguments, environment: environment, timeout: timeout,
                    outputLimit: outputLimit, input: input)
            } catch {
                throw RoleError(.git, "cannot run git: \(error)")
            }
            guard !result.succeeded, let lock = GitLock(stderr: result.stderr, directory: directory),
                let pause = watch.pause(for: lock)
            else { return result }
            if pause > .zero { try? await Task.sleep(for: pause) }
        }
    }

    /// Checks a revision (a commit id, a branch or another ref) that came from outside, such as
    /// an envelope's body, before it is given to git: git would read one that starts with `-` as
    /// an option (`--output=FILE` makes `git diff` and `git show` write a file).
    /// - Returns: `revision`.
    /// - Throws: ``RoleError`` `invalidRequest` for an empty revision, one that starts with `-`, or
    ///   one with white space or a control character.
    @discardableResult
    public static func revision(_ revision: String) throws(RoleError) -> String {
        guard !revision.isEmpty, !revision.hasPrefix("-"),
            !revision.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F })
        else {
            throw RoleError(
                .invalidRequest,
                "\"\(revision.prefix(80))\" is not a git revision (empty, a leading -, white space or a control character)"
            )
        }
        return revision
    }

    /// True when `directory` is inside a git work tree.
    public func isWorkTree() async -> Bool {
        (try? await run(["rev-parse", "--is-inside-work-tree"])) == "true"
    }

    /// The commit `ref` names.
    public func commit(of ref: String) async throws(RoleError) -> String {
        try Self.revision(ref)
        return try await run(["rev-parse", "--verify", "--quiet", ref + "^{commit}"])
    }

    /// True when the branch exists.
    public func branchExists(_ branch: String) async -> Bool {
        (try? await run(["rev-parse", "--verify", "--quiet", "refs/heads/" + branch])) != nil
    }

    /// Creates `branch` at `ref` (or leaves it when it already points there).
    public func createBranch(_ branch: String, at ref: String) async throws(RoleError) {
        if await branchExists(branch) {
            guard try await commit(of: branch) == commit(of: ref) else {
                throw RoleError(.git, "branch \(branch) already exists at another commit than \(ref)")
            }
            return
        }
        try await run(["branch", Self.revision(branch), Self.revision(ref)])
    }

    /// Adds a work tree at `path` on a new branch `branch` made from `base`.
    /// - Returns: a ``Git`` for the new work tree.
    public func addWorktree(at path: String, branch: String, from base: String) async throws(RoleError) -> Git {
        try await run(["worktree", "add", "-b", Self.revision(branch), path, Self.revision(base)])
        return at(path)
    }

    /// Adds a work tree at `path` with `commit` checked out, on no branch.
    public func addDetachedWorktree(at path: String, commit: String) async throws(RoleError) -> Git {
        try await run(["worktree", "add", "--detach", path, Self.revision(commit)])
        return at(path)
    }

    /// Removes the work tree at `path` (whatever it holds) and forgets it.
    ///
    /// Also removes what a killed git left of a work tree: a folder whose `.git` file is gone
    /// (a removal killed midway), empty or cut short (a `git worktree add` killed while writing
    /// it), or names an administrative folder that is gone; and a record git keeps locked
    /// (`initializing`) after such an add, which `git worktree prune` never drops.
    public func removeWorktree(at path: String) async throws(RoleError) {
        // Also drops a tree whose folder is gone but that git keeps locked: one whose
        // `git worktree add` was killed while it was still initializing.
        let removal = try await attempt(["worktree", "remove", "--force", "--force", path])
        if removal.succeeded { return }
        if FileManager.default.fileExists(atPath: path) {
            // Git removes no folder it cannot validate as a work tree: one whose .git file is
            // missing (a removal killed midway), empty or cut short (an add killed while writing
            // it), or names no administrative folder (removed, half made). None of these is a
            // work tree git can use: remove the folder, then what git records of it. A folder git
            // still records with a usable .git file is left, and the failure said; so is a
            // repository (a .git folder, or a .git file naming a repository's own git folder).
            var isDirectory: ObjCBool = false
            let repository =
                FileManager.default.fileExists(atPath: path + "/.git", isDirectory: &isDirectory)
                && (isDirectory.boolValue || Worktree.namesRepository(path))
            let listed = (try? await worktrees())?.contains { $0.path == path } ?? true
            guard !repository, Worktree.administrativeFolder(of: path) == nil || !listed,
                (try? FileManager.default.removeItem(atPath: path)) != nil
            else {
                throw RoleError(.git, "git worktree remove \(path) in \(directory) failed: \(removal.stderr)")
            }
            // Its folder gone, git drops its record even when it is locked (an add killed while
            // initializing leaves it so, and `git worktree prune` keeps a locked record for good).
            _ = try await attempt(["worktree", "remove", "--force", "--force", path])
        }
        // The folder is gone: drop what git still records of it.
        try await run(["worktree", "prune"])
    }

    /// Stages every change and commits it with `message` and the trailers (`Key: value` lines).
    /// - Returns: the new commit, or `nil` when there was nothing to commit.
    public func commitAll(message: String, trailers: [(String, String)]) async throws(RoleError) -> String? {
        guard try await stageAndCommit(message: message, trailers: trailers) else { return nil }
        return try await commit(of: "HEAD")
    }

    /// ``commitAll(message:trailers:)``, returning the commit with what it changed against its
    /// parent, read with one `git show`.
    public func commitAllWithChange(
        message: String, trailers: [(String, String)]
    ) async throws(RoleError) -> (commit: String, change: DiffSummary)? {
        guard try await stageAndCommit(message: message, trailers: trailers) else { return nil }
        // "<commit>\0\n" then the numstat records, each ending in NUL.
        let shown = try await run(["show", "-z", "--numstat", "--no-renames", "--format=%H", "HEAD"])
        guard let end = shown.firstIndex(of: "\0") else {
            throw RoleError(.git, "git show HEAD in \(directory) printed no commit: \(shown.prefix(200))")
        }
        let rest = shown[shown.index(after: end)...].drop { $0 == "\n" }
        return (String(shown[..<end]), DiffSummary(numstatZ: String(rest)))
    }

    /// Stages everything and commits it; false when there was nothing to commit.
    private func stageAndCommit(message: String, trailers: [(String, String)]) async throws(RoleError) -> Bool {
        try await run(["add", "--all"])
        var text = message + "\n"
        if !trailers.isEmpty { text += "\n" + trailers.map { "\($0.0): \($0.1)" }.joined(separator: "\n") + "\n" }
        let committed = try await attempt(
            [
                "-c", "user.name=\(identity.name)", "-c", "user.email=\(identity.email)", "commit", "--no-verify", "-q",
                "-m", text,
            ])
        if committed.succeeded { return true }
        // Nothing staged is not an error: there is nothing to commit.
        if try await attempt(["diff", "--cached", "--quiet"]).succeeded { return false }
        let said = (committed.stderr.isEmpty ? committed.stdout : committed.stderr)
        throw RoleError(
            .git, "git commit in \(directory) failed: \(said.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    /// What changed between two commits.
    public func diff(from base: String, to head: String) async throws(RoleError) -> DiffSummary {
        let numstat = try await run([
            "diff", "--numstat", "-z", "--no-renames", Self.revision(base), Self.revision(head),
        ])
        return DiffSummary(numstatZ: numstat)
    }

    /// Merges `commit` into the branch checked out here with a merge commit.
    /// - Returns: the merge commit, or the conflicting paths (the merge is then aborted).
    public func merge(_ commit: String, message: String) async throws(RoleError) -> MergeOutcome {
        try Self.revision(commit)
        let run = try await attempt(
            [
                "-c", "user.name=\(identity.name)", "-c", "user.email=\(identity.email)", "merge", "--no-ff",
                "--no-edit", "-m", message, commit,
            ])
        if run.succeeded { return .merged(try await self.commit(of: "HEAD")) }
        let conflicts = try await self.run(["diff", "--name-only", "--diff-filter=U"])
            .split(separator: "\n").map(String.init)
        _ = try? await self.run(["merge", "--abort"])
        if conflicts.isEmpty {
            throw RoleError(
                .git, "git merge \(commit) failed: \(run.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return .conflict(conflicts, output: (run.stdout + run.stderr).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Moves `branch` forward to `commit`, refusing anything but a fast-forward.
    public func fastForward(_ branch: String, to commit: String) async throws(RoleError) {
        try Self.revision(branch)
        try Self.revision(commit)
        let ancestor = try await attempt(["merge-base", "--is-ancestor", branch, commit])
        guard ancestor.succeeded else {
            throw RoleError(.git, "\(branch) cannot be fast-forwarded to \(commit): it has commits \(commit) lacks")
        }
        try await run(["update-ref", "refs/heads/" + branch, commit, try await self.commit(of: branch)])
    }
}

/// What a merge came to.
public enum MergeOutcome: Sendable, Equatable {
    /// Merged, with this merge commit.
    case merged(String)
    /// Not merged: these paths conflicted; git's own words.
    case conflict([String], output: String)
}
