import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program run to completion: how it ended and what it printed.
public struct ProgramRun: Sendable {
    /// How it ended; `nil` when it was killed at the time limit.
    public var exit: ChildProcess.Exit?
    /// Its standard output (at most the limit given to ``run(_:environment:directory:timeout:outputLimit:)``).
    public var stdout: String
    /// Its standard error (idem).
    public var stderr: String
    /// How long it ran.
    public var duration: Duration

    /// True when it exited with status 0.
    public var succeeded: Bool { exit == .exited(0) }

    /// True when it was killed at its time limit.
    public var timedOut: Bool { exit == nil }

    /// Runs `arguments` in its own process group, killed with this process, and waits for it; at
    /// `timeout`, SIGKILLs its whole process group. Output goes through temporary files (no pipe
    /// to fill up), read back up to `outputLimit` bytes each.
    /// - Throws: ``ProcessError`` when it cannot be started.
    public static func run(
        _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        timeout: Duration? = nil, outputLimit: Int = 1 << 20
    ) async throws(ProcessError) -> ProgramRun {
        let base =
            FileManager.default.temporaryDirectory.path + "/planbus-run-\(getpid())-" + UUID().uuidString.prefix(8)
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        let started = ContinuousClock.now
        let child = try ChildProcess.spawn(
            arguments, environment: environment, directory: directory, stdout: .file(base + ".out"),
            stderr: .file(base + ".err"), diesWithParent: true, killsGroupOnExit: true)
        let exit: ChildProcess.Exit?
        if let timeout {
            exit = await child.wait(timeout: timeout).exit
        } else {
            exit = await child.wait()
        }
        return ProgramRun(
            exit: exit, stdout: Self.read(base + ".out", limit: outputLimit),
            stderr: Self.read(base + ".err", limit: outputLimit), duration: ContinuousClock.now - started)
    }

    private static func read(_ path: String, limit: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: limit)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
