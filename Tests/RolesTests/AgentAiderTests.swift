import Bus
import BusTesting
import Foundation
import Roles
import Testing

@Suite struct AgentAiderTests {
    private func fixture(_ name: String) -> String { FakeAgentCLI.fixture("aider", name) }
    private func text(_ name: String) -> String { FakeAgentCLI.text("aider", name) }

    /// Runs the adapter against a fake `aider` that replays `stdout` (and `stderr`) and exits
    /// with `exit`.
    private func run(
        stdout: String? = nil, stderr: String? = nil, extra: String = "", exit: Int32 = 0, wantsJSON: Bool = false,
        timeout: Duration = .seconds(30)
    ) async throws -> (AgentResult, FakeAgentCLI) {
        let cli = try FakeAgentCLI(program: "aider")
        try cli.install(stdout: stdout.map(fixture), stderr: stderr.map(fixture), extra: extra, exit: exit)
        let result = try await AiderAdapter().run(
            cli.request(model: "anthropic/claude-sonnet-4-20250514", timeout: timeout, wantsJSON: wantsJSON))
        return (result, cli)
    }

    @Test func successReadsTheReplyAndTheUsageAndPassesTheContractArguments() async throws {
        let (result, cli) = try await run(stdout: "success.txt")
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.text.hasPrefix("I added the `greet` function to hello.py."))
        #expect(result.text.contains("def greet(name):"))
        #expect(!result.text.contains("Tokens:") && !result.text.contains("Main model:"))
        #expect(!result.text.contains("Applied edit"))
        #expect(
            result.usage
                == AgentUsage(
                    inputTokens: 2300, outputTokens: 245, cacheReadTokens: 5200, cacheWriteTokens: 1100,
                    costUSD: 0.0148, costSource: .reported))
        #expect(result.session == nil)
        let arguments = cli.arguments
        #expect(arguments.first == "--message-file")
        #expect(
            Array(arguments.dropFirst(2)) == [
                "--yes-always", "--no-pretty", "--no-stream", "--no-check-update", "--analytics-disable", "--model",
                "anthropic/claude-sonnet-4-20250514",
            ])
        #expect(try String(contentsOfFile: arguments[1], encoding: .utf8) == "do the thing")
        // The output streamed to the transcript.
        #expect(
            lines(of: cli.transcript).contains("Tokens: 2.3k sent, 1.1k cache write, 5.2k cache hit, 245 received."))
    }

    @Test func usageOfSeveralMessagesIsSummedAndTheCostIsTheSessionCost() {
        let report = AiderAdapter.parse(text("reflection.txt"))
        #expect(report.usage.inputTokens == 25_000)
        #expect(report.usage.outputTokens == 1_820)
        #expect(report.usage.cacheReadTokens == nil && report.usage.cacheWriteTokens == nil)
        #expect(report.usage.costUSD == 0.09)
        #expect(report.usage.costSource == .reported)
        #expect(report.failure == nil)
        #expect(report.reply.contains("Here is the change") && report.reply.contains("corrected block"))
    }

    @Test func aFailureAfterWhichAiderExitsZeroIsAnError() async throws {
        let (result, cli) = try await run(stdout: "failed-exit0.txt")
        defer { cli.remove() }
        guard case .error(let message) = result.outcome else {
            Issue.record("expected an error, got \(result.outcome)")
            return
        }
        #expect(message.contains("prompt is too long"))
        #expect(result.usage.costSource == .unknown)
    }

    @Test func theProviderRateLimitIsRateLimitedWithoutAResetTime() async throws {
        let (result, cli) = try await run(stdout: "rate-limited.txt")
        defer { cli.remove() }
        guard case .rateLimited(let until, let message) = result.outcome else {
            Issue.record("expected a rate limit, got \(result.outcome)")
            return
        }
        #expect(until == nil)
        #expect(message.contains("rate limited you"))
    }

    @Test func aUsageLimitWithADateResetsThenInLocalTime() throws {
        let output = AgentProcess.Output(ending: .exited(0), stdout: text("usage-limit-date.txt"), stderr: "")
        let result = AiderAdapter.result(of: output, wantsJSON: false, now: Date(timeIntervalSince1970: 1_780_000_000))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let expected = try #require(
            calendar.date(from: DateComponents(year: 2026, month: 9, day: 19, hour: 7, minute: 10)))
        guard case .rateLimited(let until, _) = result.outcome else {
            Issue.record("expected a rate limit, got \(result.outcome)")
            return
        }
        #expect(until == Timestamp(milliseconds: Int64(expected.timeIntervalSince1970 * 1000)))
    }

    @Test func aUsageLimitOnStandardErrorResetsAtTheNextHourInItsZone() async throws {
        let (result, cli) = try await run(stderr: "usage-limit-zone.txt")
        defer { cli.remove() }
        try AgentLimitChecks.resetsAtOnePMInLisbon(result)
    }

    @Test func aRetryThatWorkedIsNotAFailure() async throws {
        let (result, cli) = try await run(stdout: "retried.txt")
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.text == "Done: the README now documents the --verbose flag.")
        #expect(result.usage.inputTokens == 980 && result.usage.outputTokens == 61)
    }

    @Test func aRejectedKeyIsAnAuthFailure() async throws {
        let (result, cli) = try await run(stdout: "auth.txt")
        defer { cli.remove() }
        guard case .auth(let message) = result.outcome else {
            Issue.record("expected an auth failure, got \(result.outcome)")
            return
        }
        #expect(message.contains("AuthenticationError"))
    }

    @Test func noReplyIsInvalidOutput() async throws {
        let (result, cli) = try await run(stdout: "empty.txt")
        defer { cli.remove() }
        guard case .invalidOutput = result.outcome else {
            Issue.record("expected invalid output, got \(result.outcome)")
            return
        }
        #expect(result.usage.inputTokens == 1900 && result.usage.outputTokens == 0)
    }

    @Test func aJSONReplyInAFencedBlockIsParsed() async throws {
        let (result, cli) = try await run(stdout: "json-reply.txt", wantsJSON: true)
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.json?["verdict"] == "pass")
        let prose = try await run(stdout: "success.txt", wantsJSON: true)
        defer { prose.1.remove() }
        guard case .invalidOutput = prose.0.outcome else {
            Issue.record("expected invalid output, got \(prose.0.outcome)")
            return
        }
    }

    @Test func aNonZeroExitIsAnErrorWithWhatAiderSaid() async throws {
        let (result, cli) = try await run(stderr: "bad-arguments.txt", exit: 2)
        defer { cli.remove() }
        guard case .error(let message) = result.outcome else {
            Issue.record("expected an error, got \(result.outcome)")
            return
        }
        #expect(message.contains("exited 2") && message.contains("unrecognized arguments"))
    }

    @Test func aHangIsKilledAtTheTimeoutWithItsWholeGroup() async throws {
        _ = try await AgentKillChecks.hang(AiderAdapter(), program: "aider")
    }

    @Test func aGrandchildLeftRunningIsKilledWhenAiderExits() async throws {
        try await AgentKillChecks.grandchildAfterExit(
            AiderAdapter(), program: "aider", output: "cat '\(fixture("success.txt"))'")
    }
}
