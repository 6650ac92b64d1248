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
struct GitLock {
    /// How long a lock file must be seen unchanged to be removed.
    static let staleAfter: Duration = .seconds(5)
    /// How often a young lock file is looked at again.
    static let interval: Duration = .milliseconds(50)

    /// The lock file.
    let path: String

    /// The lock file git names in `stderr`, if it failed because one exists.
    init?(stderr: String) {
        guard stderr.contains("File exists"), let start = stderr.range(of: "Unable to create '"),
            let end = stderr[start.upperBound...].range(of: ".lock'")
        else { return nil }
        path = String(stderr[start.upperBound..<end.lowerBound]) + ".lock"
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

    /// The lock file as it is now; `nil` when it is gone.
    func sighting() -> Sighting? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Sighting(
            path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedSeconds: info.st_mtim.tv_sec, modifiedNanoseconds: info.st_mtim.tv_nsec)
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
            guard let seen = lock.sighting() else { return .zero }  // Gone already: run again.
            guard let last, last.sighting == seen else {
                guard now - started < GitLock.staleAfter + .seconds(1) else { return nil }
                last = (seen, now)
                return GitLock.interval
            }
            guard now - last.since >= GitLock.staleAfter else { return GitLock.interval }
            unlink(lock.path)
            self.last = nil
            return .zero
        }
    }
}
