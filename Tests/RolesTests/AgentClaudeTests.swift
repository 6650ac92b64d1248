import Bus
import BusTesting
import Foundation
import Roles
import Testing

/// The Claude Code adapter against a fake `claude` on PATH replaying recorded stream-json output.
@Suite("AgentClaude")
struct AgentClaudeTests {
    func fixture(_ name: String) -> String { FakeAgentCLI.quotedFixture("claude", name) }

    /// Runs the adapter on a fake `claude` running `body`.
    func run(
        _ body: String, model: String? = nil, resume: String? = nil, wantsJSON: Bool = false,
        timeout: Duration = .seconds(30), check: (FakeAgentCLI) throws -> Void = { _ in }
    ) async throws -> AgentResult {
        let fake = try FakeAgentCLI("claude", body: body)
        defer { fake.remove() }
        let request = fake.request(
            model: model, timeout: timeout, resume: resume, wantsJSON: wantsJSON,
            extraEnvironment: ["CLAUDECODE": "1"])
        let result = try await ClaudeAdapter().run(request)
        try check(fake)
        return result
    }

    @Test("success: the result, usage with the reported cost, the session; flags and environment")
    func success() async throws {
        let result = try await run("cat \(fixture("success.ndjson"))", model: "claude-sonnet-4-5", resume: "prev-1") {
            fake in
            #expect(
                fake.arguments == [
                    "-p", "--output-format", "stream-json", "--verbose", "--model", "claude-sonnet-4-5",
                    "--resume=prev-1", "--permission-mode", "acceptEdits", "--", "do the thing",
                ])
            #expect(fake.environment["CLAUDECODE"] == nil)
            #expect(fake.environment["PATH"]?.hasPrefix(fake.root + "/bin") == true)
            // The events streamed into the transcript, malformed line included.
            #expect(lines(of: fake.transcript).count == 7)
        }
        #expect(result.outcome == .ok)
        #expect(result.text == "Added the test; swift test passes.")
        #expect(result.session == "0f3c6a52-7d0e-4b8e-9c1a-2f5d7e9b1c44")
        #expect(
            result.usage
                == AgentUsage(
                    inputTokens: 2210, outputTokens: 388, cacheReadTokens: 30412, cacheWriteTokens: 5120,
                    costUSD: 0.04213, costSource: .reported))
    }

    @Test("JSON asked for: a fenced JSON result is parsed; the older cost_usd is accepted")
    func json() async throws {
        let result = try await run("cat \(fixture("success-json-old-cost.ndjson"))", wantsJSON: true)
        #expect(result.outcome == .ok)
        #expect(result.json?["verdict"] == .string("pass"))
        #expect(result.usage.costUSD == 0.0031)
        #expect(result.usage.costSource == .reported)
        #expect(result.session == "5b1e9d20-11aa-4c3e-8f7e-000000000001")
        let notJSON = try await run("cat \(fixture("success.ndjson"))", wantsJSON: true)
        guard case .invalidOutput = notJSON.outcome else {
            Issue.record("expected invalidOutput, got \(notJSON.outcome)")
            return
        }
    }

    @Test("is_error with exit 0 is an error; total_cost is accepted")
    func errorExitZero() async throws {
        let result = try await run("cat \(fixture("error-exit0.ndjson"))")
        #expect(result.outcome == .error("error_during_execution: Tool Bash failed: permission denied"))
        #expect(result.usage.costUSD == 0.0012)
        #expect(result.session == "a7d2c0de-0000-4000-8000-00000000e001")
    }

    @Test("API Error: Rate limit reached with subtype success and exit 0 is a rate limit")
    func apiRateLimit() async throws {
        let result = try await run("cat \(fixture("api-rate-limit-exit0.ndjson"))")
        #expect(result.outcome == .rateLimited(until: nil, message: "API Error: Rate limit reached"))
    }

    @Test("usage limit with an epoch in the result")
    func epochLimit() async throws {
        let result = try await run("cat \(fixture("usage-limit-epoch.ndjson"))")
        #expect(
            result.outcome
                == .rateLimited(
                    until: Timestamp(milliseconds: 1_783_771_200_000),
                    message: "Claude AI usage limit reached|1783771200"
                ))
    }

    @Test("an empty result with a rejected rate_limit_event is a limit until resetsAt")
    func rejectedEmpty() async throws {
        let result = try await run("cat \(fixture("rejected-empty.ndjson"))")
        #expect(
            result.outcome
                == .rateLimited(until: Timestamp(milliseconds: 1_783_771_200_000), message: "seven_day limit reached"))
    }

    @Test("hit your limit on stderr with exit 1 resets at the next 1pm in Lisbon")
    func lisbonLimit() async throws {
        let before = Date()
        let result = try await run("cat \(fixture("limit-lisbon.stderr")) >&2\nexit 1")
        guard case .rateLimited(let until?, let message) = result.outcome else {
            Issue.record("expected a rate limit with a reset, got \(result.outcome)")
            return
        }
        #expect(message == "You've hit your limit · resets 1pm (Europe/Lisbon)")
        let reset = Date(timeIntervalSince1970: Double(until.milliseconds) / 1000)
        #expect(reset > before && reset <= before.addingTimeInterval(86_400))
        var lisbon = Calendar(identifier: .gregorian)
        lisbon.timeZone = TimeZone(identifier: "Europe/Lisbon")!
        #expect(
            lisbon.dateComponents([.hour, .minute, .second], from: reset)
                == DateComponents(hour: 13, minute: 0, second: 0))
    }

    @Test("5-hour limit on stdout without a zone resets at the next 3pm local time")
    func localLimit() async throws {
        let before = Date()
        let result = try await run("cat \(fixture("limit-five-hour.stdout"))\nexit 1")
        guard case .rateLimited(let until?, _) = result.outcome else {
            Issue.record("expected a rate limit with a reset, got \(result.outcome)")
            return
        }
        let reset = Date(timeIntervalSince1970: Double(until.milliseconds) / 1000)
        #expect(reset > before && reset <= before.addingTimeInterval(86_400))
        #expect(Calendar.current.component(.hour, from: reset) == 15)
    }

    @Test("an expired OAuth token is an auth failure")
    func auth() async throws {
        let result = try await run("cat \(fixture("auth.stderr")) >&2\nexit 1")
        #expect(result.outcome == .auth("OAuth token has expired. Please run /login to sign in again."))
    }

    @Test("an empty result is invalid output")
    func empty() async throws {
        let result = try await run("cat \(fixture("empty-result.ndjson"))")
        #expect(result.outcome == .invalidOutput("the agent gave an empty result"))
        #expect(result.usage.inputTokens == 50)
    }

    @Test("a non-zero exit without a result is an error carrying stderr")
    func nonZeroExit() async throws {
        let result = try await run("cat \(fixture("bad-option.stderr")) >&2\nexit 2")
        #expect(result.outcome == .error("claude exited with status 2: error: unknown option '--bogus'"))
    }

    @Test("a hang times out, and the grandchild it started is killed")
    func hang() async throws {
        let result = try await AgentKillChecks.hang(
            ClaudeAdapter(), program: "claude", output: "head -n 2 \(fixture("success.ndjson"))")
        #expect(result.session == "0f3c6a52-7d0e-4b8e-9c1a-2f5d7e9b1c44")
    }

    @Test("a grandchild left running after a successful call is killed")
    func grandchildAfterSuccess() async throws {
        try await AgentKillChecks.grandchildAfterExit(
            ClaudeAdapter(), program: "claude", output: "cat \(fixture("success.ndjson"))")
    }
}
