import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A turn at changing a repository's integration branches, taken by the processes of one host
/// that change them (verifiers merging, the docs role writing changelog entries).
///
/// The branch is moved only by compare-and-swap (``IntegrationBranch``), which is what keeps every
/// change; the turn only saves work. Without it, a verifier's merge and the docs role's changelog
/// commit made at once on the same head make one of them fail its swap and make its change again,
/// and in a burst of integrations that was every other change, each failed try having written its
/// objects and run its git processes for nothing. The turn is an exclusive `flock` on the
/// repository's `.git` folder, held while a change is made and swapped in: the kernel drops it when
/// its holder ends or dies, so a killed role never leaves it taken. Where it cannot be had (a
/// repository whose `.git` is not a folder, a filesystem without `flock`, or a holder that keeps it
/// longer than ``patience``), the change goes ahead without it.
enum IntegrationTurn {
    /// The longest a change waits for its turn before going ahead without it.
    static let patience: Duration = .seconds(2)
    /// How long a change waits between two looks at a turn another process holds.
    static let poll: Duration = .milliseconds(1)

    /// Runs `body` in a turn on the repository at `repository`, or without one when it cannot be
    /// had.
    static func taking<T>(
        repository: String, patience: Duration = patience, _ body: () async throws(RoleError) -> T
    ) async throws(RoleError) -> T {
        let descriptor = await take(repository: repository, patience: patience)
        // Closing the only descriptor of the open file releases the lock.
        defer { if let descriptor { close(descriptor) } }
        return try await body()
    }

    /// Waits for the turn: an open descriptor of the repository's `.git` folder, locked; `nil`
    /// when it cannot be had.
    private static func take(repository: String, patience: Duration) async -> Int32? {
        let descriptor = open(repository + "/.git", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        let deadline = ContinuousClock.now + patience
        while true {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return descriptor }
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else { break }
            // The holder is a git command or two away from done (a few milliseconds).
            try? await Task.sleep(for: poll)
        }
        close(descriptor)
        return nil
    }
}
