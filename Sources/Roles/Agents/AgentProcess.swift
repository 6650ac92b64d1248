import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// Runs an agent CLI for one ``AgentRequest``: the shared part of every CLI adapter.
///
/// The command runs in its own session (so its own process group, with no controlling terminal)
/// in ``AgentRequest/directory``, with standard input from `/dev/null`. Its standard output is
/// appended to ``AgentRequest/transcript`` and its standard error to the transcript's path plus
/// `.stderr`, both written by the child itself as it produces them, so `planbus tail` sees the
/// call live. At ``AgentRequest/timeout`` the whole process group is SIGKILLed; when the command
/// exits, whatever it left running in its group is SIGKILLed too; and it dies with this process.
public struct AgentProcess: Sendable {
    /// How the command ended.
    public enum Ending: Sendable, Equatable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal it did not handle ended it.
        case signaled(Int32)
        /// It ran past the request's time limit and its process group was killed.
        case timedOut
        /// The calling task was cancelled and its process group was killed.
        case cancelled
        /// It could not be started (not found, not executable); the message says why.
        case notStarted(String)
    }

    /// What a run of the command came to.
    public struct Output: Sendable, Equatable {
        /// How it ended.
        public var ending: Ending
        /// What it wrote on standard output during this run.
        public var stdout: String
        /// What it wrote on standard error during this run.
        public var stderr: String

        /// Creates an output.
        public init(ending: Ending, stdout: String, stderr: String) {
            self.ending = ending
            self.stdout = stdout
            self.stderr = stderr
        }

        /// The exit status, when the command exited by itself.
        public var exitCode: Int32? {
            if case .exited(let code) = ending { return code }
            return nil
        }
    }

    /// The path standard error is appended to, for a transcript path.
    public static func stderrPath(forTranscript transcript: String) -> String { transcript + ".stderr" }

    /// The environment a command gets: the request's (this process's when the request has none),
    /// without the variables named in `removing`, with `adding` set.
    public static func environment(
        for request: AgentRequest, removing: Set<String> = [], adding: [String: String] = [:]
    ) -> [String: String] {
        var environment = request.environment.isEmpty ? ProcessInfo.processInfo.environment : request.environment
        for name in removing { environment.removeValue(forKey: name) }
        environment.merge(adding) { _, new in new }
        return environment
    }

    /// Runs `arguments` (the program is searched in the environment's `PATH`) for `request`.
    /// - Parameters:
    ///   - arguments: the program and its arguments.
    ///   - request: gives the directory, the time limit and the transcript.
    ///   - environment: the command's whole environment (see ``environment(for:removing:adding:)``).
    /// - Returns: how it ended and what it wrote in this run (earlier contents of the transcript
    ///   files are left in place and not returned).
    /// - Throws: ``RoleError`` `io` when the transcript files cannot be created.
    public static func run(
        _ arguments: [String], request: AgentRequest, environment: [String: String]
    ) async throws(RoleError) -> Output {
        let stdoutPath = request.transcript
        let stderrPath = stderrPath(forTranscript: request.transcript)
        let stdoutStart = try prepare(stdoutPath)
        let stderrStart = try prepare(stderrPath)
        let ending: Ending
        do {
            let child = try ChildProcess.spawn(
                arguments, environment: environment, directory: request.directory, stdout: .file(stdoutPath),
                stderr: .file(stderrPath), newSession: true, diesWithParent: true, killsGroupOnExit: true)
            switch await child.wait(timeout: request.timeout) {
            case .ended(.exited(let code)): ending = .exited(code)
            case .ended(.signaled(let signal)): ending = .signaled(signal)
            case .timedOut: ending = .timedOut
            case .cancelled: ending = .cancelled
            }
        } catch {
            ending = .notStarted(error.description)
        }
        return Output(
            ending: ending, stdout: read(stdoutPath, from: stdoutStart), stderr: read(stderrPath, from: stderrStart))
    }

    /// Creates `path` (and its folder) when missing; returns its current size.
    private static func prepare(_ path: String) throws(RoleError) -> UInt64 {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RoleError(.io, "\(path): cannot write the transcript: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return UInt64(info.st_size)
    }

    /// The text of `path` from byte `offset` on.
    private static func read(_ path: String, from offset: UInt64) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd() else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
