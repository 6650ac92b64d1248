import Bus
import BusTesting
import Foundation
import Roles
import Testing

@Suite struct AgentCursorTests {
    private static let session = "c6b62c6f-7ead-4fd6-9922-e952131177ff"
    private func fixture(_ name: String) -> String { FakeAgentCLI.fixture("cursor-agent", name) }

    /// Runs the adapter against a fake `cursor-agent` that replays `stdout` (and `stderr`) and
    /// exits with `exit`.
    private func run(
        stdout: String? = nil, stderr: String? = nil, extra: String = "", exit: Int32 = 0, wantsJSON: Bool = false,
        session: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> (AgentResult, FakeAgentCLI) {
        let cli = try FakeAgentCLI(program: "cursor-agent")
        try cli.install(stdout: stdout.map(fixture), stderr: stderr.map(fixture), extra: extra, exit: exit)
        let result = try await CursorAgentAdapter().run(
            cli.request(model: "gpt-5", timeout: timeout, resume: session, wantsJSON: wantsJSON))
        return (result, cli)
    }

    private func expectInvalid(_ outcome: AgentResult.Outcome) {
        guard case .invalidOutput = outcome else {
            Issue.record("expected invalid output, got \(outcome)")
            return
        }
    }

    @Test func successReadsTheResultAndTheSessionWithUnknownUsage() async throws {
        let (result, cli) = try await run(stdout: "success.ndjson", session: "prior-chat")
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.text == "I'll add the function. Added greet to hello.py.")
        #expect(result.session == Self.session)
        #expect(result.usage == AgentUsage(costSource: .unknown))
        #expect(
            cli.arguments == [
                "-p", "--output-format", "stream-json", "--force", "--trust", "--model", "gpt-5", "--resume",
                "prior-chat", "do the thing",
            ])
        #expect(lines(of: cli.transcript).count == 8)
    }

    @Test func theStreamParserReadsEveryEventKind() {
        let stream = CursorAgentAdapter.parse(FakeAgentCLI.text("cursor-agent", "success.ndjson"))
        #expect(stream.model == "Claude 4 Sonnet")
        #expect(stream.assistantText == "I'll add the function. Added greet to hello.py.")
        #expect(
            stream.result == CursorAgentAdapter.Final(text: stream.assistantText, isError: false, subtype: "success"))
        #expect(stream.skippedLines == 0)
    }

    @Test func aMalformedLineAmongGoodOnesIsSkipped() async throws {
        let (result, cli) = try await run(stdout: "malformed-line.ndjson")
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.text == "Working on it. Tests pass.")
        #expect(
            CursorAgentAdapter.parse(FakeAgentCLI.text("cursor-agent", "malformed-line.ndjson")).skippedLines == 2)
    }

    @Test func anErrorResultIsAnErrorEvenWithExitZero() async throws {
        let (result, cli) = try await run(stdout: "error-exit0.ndjson")
        defer { cli.remove() }
        guard case .error(let message) = result.outcome else {
            Issue.record("expected an error, got \(result.outcome)")
            return
        }
        #expect(message.contains("Model unavailable"))
        #expect(result.session == Self.session)
    }

    @Test func aUsageLimitResultResetsAtTheNamedTimeToday() throws {
        let output = AgentProcess.Output(
            ending: .exited(0), stdout: FakeAgentCLI.text("cursor-agent", "usage-limit.ndjson"), stderr: "")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let now = try #require(calendar.date(from: DateComponents(year: 2026, month: 3, day: 2, hour: 9, minute: 30)))
        let result = CursorAgentAdapter.result(of: output, wantsJSON: false, now: now)
        let expected = try #require(
            calendar.date(from: DateComponents(year: 2026, month: 3, day: 2, hour: 15, minute: 5)))
        guard case .rateLimited(let until, let message) = result.outcome else {
            Issue.record("expected a rate limit, got \(result.outcome)")
            return
        }
        #expect(until == Timestamp(milliseconds: Int64(expected.timeIntervalSince1970 * 1000)))
        #expect(message.contains("usage limit"))
    }

    @Test func aUsageLimitOnStandardErrorResetsAtTheNextHourInItsZone() async throws {
        let (result, cli) = try await run(stderr: "usage-limit-zone.stderr", exit: 1)
        defer { cli.remove() }
        try AgentLimitChecks.resetsAtOnePMInLisbon(result)
    }

    @Test func missingCredentialsAreAnAuthFailure() async throws {
        let (result, cli) = try await run(stderr: "auth.stderr", exit: 1)
        defer { cli.remove() }
        guard case .auth(let message) = result.outcome else {
            Issue.record("expected an auth failure, got \(result.outcome)")
            return
        }
        #expect(message.contains("cursor-agent login"))
    }

    @Test func anEmptyResultOrNoResultIsInvalidOutput() async throws {
        let (empty, cli) = try await run(stdout: "empty-result.ndjson")
        defer { cli.remove() }
        expectInvalid(empty.outcome)
        #expect(empty.session == Self.session)
        let (cut, other) = try await run(stdout: "no-result.ndjson")
        defer { other.remove() }
        expectInvalid(cut.outcome)
        #expect(cut.text == "Starting.")
    }

    @Test func aJSONResultIsParsed() async throws {
        let (result, cli) = try await run(stdout: "json-result.ndjson", wantsJSON: true)
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.json?["verdict"] == "fail")
        #expect(result.json?["reasons"] == ["no test"])
    }

    @Test func aNonZeroExitIsAnErrorWithTheLastWordsOfStandardError() async throws {
        let (result, cli) = try await run(stderr: "crash.stderr", exit: 1)
        defer { cli.remove() }
        guard case .error(let message) = result.outcome else {
            Issue.record("expected an error, got \(result.outcome)")
            return
        }
        #expect(message.contains("exited 1") && message.contains("ECONNRESET"))
    }

    @Test func aHangIsKilledAtTheTimeoutWithItsWholeGroup() async throws {
        let result = try await AgentKillChecks.hang(
            CursorAgentAdapter(), program: "cursor-agent", output: "cat '\(fixture("no-result.ndjson"))'")
        #expect(result.session == Self.session)
    }

    @Test func aGrandchildLeftRunningIsKilledWhenTheAgentExits() async throws {
        try await AgentKillChecks.grandchildAfterExit(
            CursorAgentAdapter(), program: "cursor-agent", output: "cat '\(fixture("success.ndjson"))'")
    }
}
