import Bus
import BusTesting
import Foundation
import Roles
import Testing

/// The Gemini CLI adapter against a fake `gemini` on PATH replaying recorded stream-json output.
@Suite("AgentGemini")
struct AgentGeminiTests {
    func fixture(_ name: String) -> String { FakeAgentCLI.quotedFixture("gemini", name) }

    func run(
        _ body: String, model: String? = nil, resume: String? = nil, wantsJSON: Bool = false,
        timeout: Duration = .seconds(30), check: (FakeAgentCLI) throws -> Void = { _ in }
    ) async throws -> AgentResult {
        let fake = try FakeAgentCLI("gemini", body: body)
        defer { fake.remove() }
        let request = fake.request(model: model, timeout: timeout, resume: resume, wantsJSON: wantsJSON)
        let result = try await GeminiAdapter().run(request)
        try check(fake)
        return result
    }

    @Test("success: assistant deltas joined into JSON, usage from result stats, session from init")
    func success() async throws {
        let result = try await run(
            "cat \(fixture("success.ndjson"))", model: "gemini-2.5-pro", resume: "latest", wantsJSON: true
        ) { fake in
            #expect(
                fake.arguments == [
                    "-p", "do the thing", "-o", "stream-json", "--approval-mode", "yolo", "--skip-trust", "-m",
                    "gemini-2.5-pro", "--resume", "latest",
                ])
            #expect(lines(of: fake.transcript).count == 8)
        }
        #expect(result.outcome == .ok)
        #expect(result.text == "{\"verdict\": \"pass\", \"notes\": []}")
        #expect(result.json?["verdict"] == .string("pass"))
        #expect(result.session == "6c1f8d2e-3b4a-4c5d-9e6f-7a8b9c0d1e2f")
        #expect(
            result.usage
                == AgentUsage(inputTokens: 15012, outputTokens: 611, cacheReadTokens: 9800, costSource: .unknown))
    }

    @Test("a result with status error and exit 0 is an error")
    func errorExitZero() async throws {
        let result = try await run("cat \(fixture("error-result.ndjson"))")
        #expect(
            result.outcome
                == .error(
                    "gemini: the run failed: Tool run_shell_command failed: command not allowed; Tool execution failed")
        )
        #expect(result.usage.inputTokens == 180)
    }

    @Test("the daily quota is a limit without a reset")
    func dailyQuota() async throws {
        let result = try await run("cat \(fixture("quota-daily.ndjson"))\nexit 1")
        #expect(
            result.outcome == .rateLimited(until: nil, message: "You have exhausted your daily quota on this model."))
        #expect(result.session == "6c1f8d2e-0000-4000-8000-000000000429")
    }

    @Test("a retryable quota error on stderr resets after its retry delay")
    func retryQuota() async throws {
        let before = Date()
        let result = try await run("cat \(fixture("quota-retry.stderr")) >&2\nexit 1")
        guard case .rateLimited(let until?, let message) = result.outcome else {
            Issue.record("expected a rate limit with a reset, got \(result.outcome)")
            return
        }
        #expect(message.hasPrefix("[429 Too Many Requests] Quota exceeded"))
        let reset = Date(timeIntervalSince1970: Double(until.milliseconds) / 1000)
        #expect(reset >= before.addingTimeInterval(23.5) && reset <= Date().addingTimeInterval(23.5))
    }

    @Test("exit 41 is an auth failure")
    func auth() async throws {
        let result = try await run("cat \(fixture("auth.stderr")) >&2\nexit 41")
        #expect(
            result.outcome
                == .auth(
                    "Error authenticating: Please set an Auth method in your settings.json or specify GEMINI_API_KEY."))
    }

    @Test("exit 53 names the turn limit and keeps the partial reply")
    func turnLimit() async throws {
        let result = try await run("cat \(fixture("turn-limit.ndjson"))\nexit 53")
        #expect(
            result.outcome
                == .error("gemini: turn limit reached (exit 53): Reached max session turns for this session."))
        #expect(result.text == "Still working on")
    }

    @Test("an empty reply is invalid output")
    func empty() async throws {
        let result = try await run("cat \(fixture("empty.ndjson"))")
        #expect(result.outcome == .invalidOutput("the agent gave an empty result"))
    }

    @Test("a non-zero exit without events is an error carrying stderr")
    func nonZeroExit() async throws {
        let result = try await run("cat \(fixture("bad-option.stderr")) >&2\nexit 42")
        #expect(result.outcome == .error("gemini: bad input (exit 42): Unknown argument: bogus"))
    }

    @Test("a hang times out and its grandchild is killed")
    func hang() async throws {
        let result = try await AgentKillChecks.hang(
            GeminiAdapter(), program: "gemini", output: "head -n 1 \(fixture("success.ndjson"))")
        #expect(result.session == "6c1f8d2e-3b4a-4c5d-9e6f-7a8b9c0d1e2f")
    }

    @Test("a grandchild left running after the call is killed")
    func grandchild() async throws {
        try await AgentKillChecks.grandchildAfterExit(
            GeminiAdapter(), program: "gemini", output: "cat \(fixture("success.ndjson"))")
    }
}
