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
/// lock file that has not changed for ``staleAfter`` is taken as left by a dead git and removed;
/// a younger one is waited for.
struct GitLock {
    /// How old a lock file must be to be removed.
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

    /// How long to wait before running the command again, after removing the lock file when it is
    /// stale; `nil` to give up, once `waited` is past ``staleAfter`` and a second.
    func pause(waited: Duration) -> Duration? {
        guard waited < Self.staleAfter + .seconds(1) else { return nil }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let modified = attributes[.modificationDate] as? Date
        else { return .zero }  // Gone already: run again.
        let age = Date().timeIntervalSince(modified)
        guard age >= Double(Self.staleAfter.components.seconds) else { return Self.interval }
        unlink(path)
        return .zero
    }
}
