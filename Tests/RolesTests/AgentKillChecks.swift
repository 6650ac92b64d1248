import BusTesting
import Foundation
import Roles
import Testing

/// The checks every CLI adapter suite makes on process groups: a call that hangs is killed at its
/// time limit, and a grandchild the agent leaves running is killed when the call ends.
enum AgentKillChecks {
    /// Runs `adapter` on a fake `program` that prints `output` (shell), leaves a grandchild and
    /// hangs. Expects a time-out well before the hang would end, and the grandchild, seen alive
    /// during the call, killed.
    /// - Returns: the result, for checks of what was read before the hang.
    static func hang(
        _ adapter: some AgentAdapter, program: String, output: String = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> AgentResult {
        let cli = try FakeAgentCLI(program: program)
        defer { cli.remove() }
        try cli.install(body: output + "\n" + cli.leavingGrandchild + "\n" + cli.hanging)
        let started = ContinuousClock.now
        let (result, wasAlive, pid) = try await cli.watchingGrandchild {
            try await adapter.run(cli.request(timeout: .seconds(20)))
        }
        #expect(wasAlive, sourceLocation: sourceLocation)
        #expect(result.outcome == .timeout, sourceLocation: sourceLocation)
        // Killed, not waited for: the hang (sleep 300) would have lasted far longer.
        #expect(ContinuousClock.now - started < .seconds(200), sourceLocation: sourceLocation)
        let grandchild = try #require(pid, sourceLocation: sourceLocation)
        #expect(
            await eventually { !FakeAgentCLI.isAlive(grandchild) },
            sourceLocation: sourceLocation)
        return result
    }

    /// Runs `adapter` on a fake `program` that prints `output` (shell) and exits, leaving a
    /// grandchild running. Expects the call to succeed and the grandchild, seen alive during the
    /// call, killed.
    static func grandchildAfterExit(
        _ adapter: some AgentAdapter, program: String, output: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let cli = try FakeAgentCLI(program: program)
        defer { cli.remove() }
        try cli.install(body: output + "\n" + cli.leavingGrandchild)
        let (result, wasAlive, pid) = try await cli.watchingGrandchild { try await adapter.run(cli.request()) }
        #expect(wasAlive, sourceLocation: sourceLocation)
        #expect(result.outcome == .ok, sourceLocation: sourceLocation)
        let grandchild = try #require(pid, sourceLocation: sourceLocation)
        #expect(
            await eventually { !FakeAgentCLI.isAlive(grandchild) },
            sourceLocation: sourceLocation)
    }
}
