import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A lock file that made a git command fail (`Unable to create '….lock': File exists`), and
/// what to do about it.
///
/// Git takes a lock by creating `<file>.lock` and drops it by renaming or removing it. A git
/// process killed in between (SIGKILL reaches the git commands of a role process that is killed,
/// through their parent-death signal) leaves the lock file behind, and every later git that needs
/// the same ref or index fails until someone removes it. Git holds a lock for milliseconds, so a
/// lock file seen unchanged (the same file, size and modification time) for ``staleAfter`` is
/// taken as left by a dead git and removed; a younger one is waited for. The age is measured with
/// this machine's monotonic clock from when the lock file was first seen, never by comparing its
/// modification time with the wall clock: on a shared filesystem that time comes from the file
/// server's clock, which may be minutes away from this one's.
///
/// The same goes for a work tree's administrative folder, `.git/worktrees/<name>/`, that a
/// `git worktree add` killed while making it left with its `commondir` or `gitdir` file missing or
/// empty: every
/// later `git worktree` command of the repository fails on it (`failed to read
/// .git/worktrees/<name>/commondir`) until it is removed. One seen unchanged and still incomplete
/// for ``staleAfter`` is removed; one being made right now is complete within milliseconds.
struct GitLock {
    /// How long a lock file must be seen unchanged to be removed.
    static let staleAfter: Duration = .seconds(5)
    /// How often a young lock file is looked at again.
    static let interval: Duration = .milliseconds(50)

    /// The lock file, or the administrative folder of a work tree.
    let path: String
    /// For a work tree's administrative folder: the file it lacks.
    let missing: String?

    /// The lock file git names in `stderr`, if it failed because one exists, or the incomplete
    /// administrative folder of a work tree it failed to read (a relative path is taken from
    /// `directory`, where git ran).
    init?(stderr: String, directory: String = ".") {
        if stderr.contains("File exists"), let start = stderr.range(of: "Unable to create '"),
            let end = stderr[start.upperBound...].range(of: ".lock'")
        {
            path = String(stderr[start.upperBound..<end.lowerBound]) + ".lock"
            missing = nil
            return
        }
        for file in ["commondir", "gitdir"] {
            guard let start = stderr.range(of: "failed to read "),
                let end = stderr[start.upperBound...].range(of: "/" + file + ":")
            else { continue }
            let folder = String(stderr[start.upperBound..<end.lowerBound])
            guard folder.contains("worktrees/"), !folder.hasSuffix("/worktrees") else { return nil }
            path = folder.hasPrefix("/") ? folder : directory + "/" + folder
            missing = file
            return
        }
        return nil
    }

    /// What tells one state of a lock file from another: a lock dropped and taken again is a new
    /// file, or at least a new modification time.
    struct Sighting: Equatable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
    }

    /// The lock file as it is now; `nil` when it is gone (for a work tree's folder: also when it
    /// is complete now).
    func sighting() -> Sighting? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        if let missing {
            // Git reads the file when it exists, and fails on an empty one as on a missing one.
            var file = stat()
            guard lstat(path + "/" + missing, &file) != 0 || file.st_size == 0 else { return nil }
        }
        return Sighting(
            path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedSeconds: info.st_mtim.tv_sec, modifiedNanoseconds: info.st_mtim.tv_nsec)
    }

    /// Removes the lock file, or the work tree's incomplete administrative folder.
    func remove() {
        guard missing != nil else {
            unlink(path)
            return
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The lock files one git command met, watched while the command is run again.
    struct Watch {
        /// The lock file last seen, and since when it has been seen unchanged.
        private var last: (sighting: Sighting, since: ContinuousClock.Instant)?
        private let started: ContinuousClock.Instant

        init(now: ContinuousClock.Instant = .now) { started = now }

        /// How long to wait before running the command again, after removing `lock` when it has
        /// been seen unchanged for ``GitLock/staleAfter``; `nil` to give up, when lock files keep
        /// changing (a live git) for longer than ``GitLock/staleAfter`` and a second. One that
        /// stays unchanged is always waited out, however slow each run of the command is.
        mutating func pause(for lock: GitLock, now: ContinuousClock.Instant = .now) -> Duration? {
            // Whatever git keeps failing on, the command is not run again for ever.
            guard now - started < GitLock.staleAfter * 3 else { return nil }
            guard let seen = lock.sighting() else { return .zero }  // Gone already: run again.
            guard let last, last.sighting == seen else {
                guard now - started < GitLock.staleAfter + .seconds(1) else { return nil }
                last = (seen, now)
                return GitLock.interval
            }
            guard now - last.since >= GitLock.staleAfter else { return GitLock.interval }
            lock.remove()
            self.last = nil
            return .zero
        }
    }
}
