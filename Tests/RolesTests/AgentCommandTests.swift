import Bus
import BusTesting
import Foundation
import Roles
import Testing

@Suite struct AgentCommandTests {
    private func fixture(_ name: String) -> String { FakeAgentCLI.fixture("command", name) }

    /// Runs a command adapter whose program is a fake `mytool` replaying `stdout` (and `stderr`).
    private func run(
        _ output: CommandAdapter.Output = .text, template: [String] = ["mytool", "--prompt", "{prompt_file}"],
        stdout: String? = nil, stderr: String? = nil, extra: String = "", exit: Int32 = 0, wantsJSON: Bool = false,
        session: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> (AgentResult, FakeAgentCLI) {
        let cli = try FakeAgentCLI(program: "mytool")
        try cli.install(stdout: stdout.map(fixture), stderr: stderr.map(fixture), extra: extra, exit: exit)
        let adapter = try CommandAdapter(name: "mytool", template: template, output: output)
        let result = try await adapter.run(
            cli.request(model: "local-7b", timeout: timeout, resume: session, wantsJSON: wantsJSON))
        return (result, cli)
    }

    private func expectInvalid(_ outcome: AgentResult.Outcome) {
        guard case .invalidOutput = outcome else {
            Issue.record("expected invalid output, got \(outcome)")
            return
        }
    }

    @Test func placeholdersAreFilledAndEmptyOnesLeftOut() async throws {
        let template = [
            "mytool", "--prompt={prompt_file}", "-C", "{workdir}", "-m", "{model}", "{session}", "x{session}y",
        ]
        let (result, cli) = try await run(template: template, stdout: "reply.txt")
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.text == "Renamed the flag to --verbose and updated the two call sites.")
        #expect(result.usage == AgentUsage(costSource: .unknown))
        let arguments = cli.arguments
        #expect(arguments.count == 6)
        #expect(arguments.dropFirst().prefix(4) == ["-C", cli.work, "-m", "local-7b"])
        #expect(arguments.last == "xy")
        let promptFile = try #require(arguments.first?.split(separator: "=", maxSplits: 1).last.map(String.init))
        #expect(try String(contentsOfFile: promptFile, encoding: .utf8) == "do the thing")

        let (_, resumed) = try await run(template: ["mytool", "{session}"], stdout: "reply.txt", session: "run-42")
        defer { resumed.remove() }
        #expect(resumed.arguments == ["run-42"])
    }

    @Test func aTemplateWithAnUnknownPlaceholderOrNoProgramIsRefused() {
        #expect(throws: RoleError.self) { try CommandAdapter(template: ["mytool", "{prompt}"]) }
        #expect(throws: RoleError.self) { try CommandAdapter(template: []) }
        #expect(throws: RoleError.self) { try CommandAdapter(template: ["", "{workdir}"]) }
    }

    @Test func aJSONReplyGivesTextUsageAndSession() async throws {
        let (result, cli) = try await run(.json, stdout: "reply.json")
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.text == "Renamed the flag to --verbose.")
        #expect(result.session == "run-42")
        #expect(
            result.usage
                == AgentUsage(
                    inputTokens: 1200, outputTokens: 300, cacheReadTokens: 800, cacheWriteTokens: nil,
                    reasoningTokens: 64, costUSD: 0.0123, costSource: .reported))
    }

    @Test func progressLinesBeforeTheJSONLineAreIgnored() async throws {
        let (result, cli) = try await run(.json, stdout: "progress-then-json.txt")
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.text == "Done.")
        #expect(result.usage == AgentUsage(inputTokens: 10, outputTokens: 2, costSource: .unknown))
    }

    @Test func theReplyTextIsParsedWhenJSONIsWanted() async throws {
        let (result, cli) = try await run(.json, stdout: "reply-no-usage.json", wantsJSON: true)
        defer { cli.remove() }
        #expect(result.outcome == .ok)
        #expect(result.json == ["verdict": "pass"])
        let (prose, other) = try await run(stdout: "reply.txt", wantsJSON: true)
        defer { other.remove() }
        expectInvalid(prose.outcome)
    }

    @Test func aReportedErrorIsTheOutcomeItNamesEvenWithExitZero() async throws {
        let (limited, cli) = try await run(.json, stdout: "error-limit.json")
        defer { cli.remove() }
        #expect(
            limited.outcome
                == .rateLimited(until: Timestamp(milliseconds: 1_789_000_000_000), message: "daily quota used"))
        #expect(limited.usage.inputTokens == 5)
        let (auth, other) = try await run(.json, stdout: "error-auth.json", exit: 3)
        defer { other.remove() }
        #expect(auth.outcome == .auth("token expired; run mytool login"))
    }

    @Test func jsonOutputWithoutTextOrNotJSONIsInvalid() async throws {
        let (missing, cli) = try await run(.json, stdout: "missing-text.json")
        defer { cli.remove() }
        expectInvalid(missing.outcome)
        let (prose, other) = try await run(.json, stdout: "reply.txt")
        defer { other.remove() }
        expectInvalid(prose.outcome)
    }

    @Test func anEmptyReplyIsInvalidOutput() async throws {
        let (result, cli) = try await run()
        defer { cli.remove() }
        expectInvalid(result.outcome)
    }

    @Test func aUsageLimitWithAnEpochOnStandardErrorAndAFailedExit() async throws {
        let (result, cli) = try await run(stderr: "limit-epoch.stderr", exit: 1)
        defer { cli.remove() }
        guard case .rateLimited(let until, let message) = result.outcome else {
            Issue.record("expected a rate limit, got \(result.outcome)")
            return
        }
        #expect(until == Timestamp(milliseconds: 1_789_003_600_000))
        #expect(message.hasPrefix("Claude AI usage limit reached"))
    }

    @Test func aUsageLimitThatIsTheWholeReplyResetsAtTheNextLocalHour() throws {
        let adapter = try CommandAdapter(template: ["mytool"])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let now = try #require(calendar.date(from: DateComponents(year: 2026, month: 6, day: 10, hour: 16, minute: 40)))
        let output = AgentProcess.Output(
            ending: .exited(0), stdout: FakeAgentCLI.text("command", "limit-five-hour.txt"), stderr: "")
        let expected = try #require(calendar.date(from: DateComponents(year: 2026, month: 6, day: 11, hour: 15)))
        guard case .rateLimited(let until, _) = adapter.result(of: output, wantsJSON: false, now: now).outcome else {
            Issue.record("expected a rate limit")
            return
        }
        #expect(until == Timestamp(milliseconds: Int64(expected.timeIntervalSince1970 * 1000)))
        // A longer reply that speaks of limits is a reply.
        let reply = AgentProcess.Output(
            ending: .exited(0), stdout: "Added retry logic.\nIt backs off when the rate limit reached 429.\n",
            stderr: "")
        #expect(adapter.result(of: reply, wantsJSON: false, now: now).outcome == .ok)
    }

    @Test func aUsageLimitInAnotherZoneResetsAtItsNextHourThere() async throws {
        let (result, cli) = try await run(stderr: "limit-zone.stderr", exit: 1)
        defer { cli.remove() }
        try AgentLimitChecks.resetsAtOnePMInLisbon(result)
    }

    @Test func anExpiredTokenIsAnAuthFailure() async throws {
        let (result, cli) = try await run(stderr: "auth.stderr", exit: 1)
        defer { cli.remove() }
        guard case .auth(let message) = result.outcome else {
            Issue.record("expected an auth failure, got \(result.outcome)")
            return
        }
        #expect(message.contains("OAuth token has expired"))
    }

    @Test func aNonZeroExitIsAnErrorWithTheLastWordsOfStandardError() async throws {
        let (result, cli) = try await run(stdout: "reply.txt", stderr: "crash.stderr", exit: 2)
        defer { cli.remove() }
        guard case .error(let message) = result.outcome else {
            Issue.record("expected an error, got \(result.outcome)")
            return
        }
        #expect(message.contains("mytool exited 2") && message.contains("no model configured"))
    }

    @Test func aMissingProgramIsAnError() async throws {
        let cli = try FakeAgentCLI(program: "mytool")
        defer { cli.remove() }
        let result = try await CommandAdapter(template: ["no-such-tool-here"]).run(cli.request())
        guard case .error(let message) = result.outcome else {
            Issue.record("expected an error, got \(result.outcome)")
            return
        }
        #expect(message.contains("no-such-tool-here"))
    }

    @Test func aHangIsKilledAtTheTimeoutWithItsWholeGroup() async throws {
        _ = try await AgentKillChecks.hang(
            CommandAdapter(template: ["mytool"]), program: "mytool", output: "cat '\(fixture("reply.txt"))'")
    }

    @Test func aGrandchildLeftRunningIsKilledWhenTheCommandExits() async throws {
        try await AgentKillChecks.grandchildAfterExit(
            CommandAdapter(template: ["mytool"], output: .json), program: "mytool",
            output: "cat '\(fixture("reply.json"))'")
    }
}
