import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program run to completion: how it ended and what it printed.
public struct ProgramRun: Sendable {
    /// How it ended; `nil` when it was killed at the time limit.
    public var exit: ChildProcess.Exit?
    /// Its standard output as bytes, as it wrote them (at most the limit given to
    /// ``run(_:environment:directory:timeout:outputLimit:input:)``).
    public var output: [UInt8]
    /// ``output`` as UTF-8 text (invalid sequences replaced).
    public var stdout: String { String(decoding: output, as: UTF8.self) }
    /// Its standard error (idem).
    public var stderr: String
    /// How long it ran.
    public var duration: Duration

    /// True when it exited with status 0.
    public var succeeded: Bool { exit == .exited(0) }

    /// True when it was killed at its time limit.
    public var timedOut: Bool { exit == nil }

    /// Runs `arguments` in its own process group, killed with this process, and waits for it; at
    /// `timeout`, SIGKILLs its whole process group. Output goes to files in memory
    /// (``AnonymousFile``: no pipe to fill up, no file on disk), read back up to `outputLimit`
    /// bytes each (what the program writes past that is still held until it ends: this is for
    /// programs whose output is small). Its standard input is `input`, or `/dev/null` when `nil`.
    /// - Throws: ``ProcessError`` when it cannot be started.
    public static func run(
        _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        timeout: Duration? = nil, outputLimit: Int = 1 << 20, input: String? = nil
    ) async throws(ProcessError) -> ProgramRun {
        let out = try AnonymousFile()
        let err = try AnonymousFile()
        let stdin = try input.map { text throws(ProcessError) in try AnonymousFile(holding: text) }
        let started = ContinuousClock.now
        let child = try ChildProcess.spawn(
            arguments, environment: environment, directory: directory, stdin: stdin, stdout: out.output,
            stderr: err.output, diesWithParent: true, killsGroupOnExit: true)
        let exit: ChildProcess.Exit?
        if let timeout {
            exit = await child.wait(timeout: timeout).exit
        } else {
            exit = await child.wait()
        }
        return ProgramRun(
            exit: exit, output: out.read(limit: outputLimit), stderr: err.text(limit: outputLimit),
            duration: ContinuousClock.now - started)
    }
}
