import Foundation
import Launcher
import Processes

/// The result of running a command to completion.
public struct CommandResult: Sendable {
    public var exit: ChildProcess.Exit
    public var stdout: String
    public var stderr: String

    /// The exit code, or -1 when the command was killed by a signal.
    public var code: Int32 {
        if case .exited(let c) = exit { return c }
        return -1
    }
}

/// Runs `arguments` as a real process, capturing stdout and stderr through files.
///
/// A command still running after `timeout` has its process group SIGKILLed, so a hung command
/// fails the test that ran it (exit `.signaled(SIGKILL)`, and a line saying so on stderr) instead
/// of hanging the suite.
public func runCommand(
    _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
    timeout: Duration = testProcessTimeout
) async throws -> CommandResult {
    let base = FileManager.default.temporaryDirectory.path + "/planbus-cmd-" + UUID().uuidString.prefix(8)
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let child = try ChildProcess.spawn(
        arguments, environment: environment, directory: directory, stdout: .file(base + ".out"),
        stderr: .file(base + ".err"))
    let outcome = await child.wait(timeout: timeout)
    var stderr = lines(of: base + ".err")
    if outcome.exit == nil { stderr.append("killed: still running after \(timeout)") }
    return CommandResult(
        exit: outcome.exit ?? .signaled(SIGKILL), stdout: lines(of: base + ".out").joined(separator: "\n"),
        stderr: stderr.joined(separator: "\n"))
}

/// Runs the `planbus` executable.
public func planbus(_ arguments: String..., environment: [String: String]? = nil) async throws -> CommandResult {
    try await runCommand([Executables.planbus] + arguments, environment: environment)
}
