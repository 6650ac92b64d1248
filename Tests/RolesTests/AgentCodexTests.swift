import Bus
import BusTesting
import Foundation
import Roles
import Testing

/// The Codex adapter against a fake `codex` on PATH replaying recorded `exec --json` output.
@Suite("AgentCodex")
struct AgentCodexTests {
    func fixture(_ name: String) -> String { FakeAgentCLI.quotedFixture("codex", name) }

    func run(
        _ body: String, model: String? = nil, resume: String? = nil, wantsJSON: Bool = false,
        timeout: Duration = .seconds(30), check: (FakeAgentCLI) throws -> Void = { _ in }
    ) async throws -> AgentResult {
        let fake = try FakeAgentCLI("codex", body: body)
        defer { fake.remove() }
        let request = fake.request(model: model, timeout: timeout, resume: resume, wantsJSON: wantsJSON)
        let result = try await CodexAdapter().run(request)
        try check(fake)
        return result
    }

    func date(_ result: AgentResult) -> Date? {
        guard case .rateLimited(let until?, _) = result.outcome else { return nil }
        return Date(timeIntervalSince1970: Double(until.milliseconds) / 1000)
    }

    @Test(
        "success: the last agent message as JSON, usage, thread id; a recovered error and a malformed line are skipped")
    func success() async throws {
        let result = try await run("cat \(fixture("success.jsonl"))", model: "gpt-5-codex", wantsJSON: true) { fake in
            #expect(
                fake.arguments == [
                    "exec", "--json", "--sandbox", "workspace-write", "-C", fake.work, "-m", "gpt-5-codex", "--",
                    "do the thing",
                ])
            #expect(lines(of: fake.transcript).count == 10)
        }
        #expect(result.outcome == .ok)
        #expect(result.json?["verdict"] == .string("pass"))
        #expect(result.session == "0199a213-81c0-7800-8aa1-bbab2a035a53")
        #expect(
            result.usage
                == AgentUsage(
                    inputTokens: 24763, outputTokens: 122, cacheReadTokens: 24448, reasoningTokens: 64,
                    costSource: .unknown))
    }

    @Test("resume goes through codex exec resume <id>")
    func resume() async throws {
        _ = try await run("cat \(fixture("success.jsonl"))", resume: "0199a213-81c0") { fake in
            #expect(fake.arguments.suffix(4) == ["resume", "0199a213-81c0", "--", "do the thing"])
        }
    }

    @Test("turn.failed with exit 0 is an error")
    func turnFailed() async throws {
        let result = try await run("cat \(fixture("turn-failed.jsonl"))")
        #expect(result.outcome == .error("unexpected status 400 Bad Request: model not supported"))
        #expect(result.session == "0199a213-0000-7000-8000-00000000f001")
    }

    @Test("usage limit: try again at 3:05 PM is the next 3:05 PM local time")
    func limitTime() async throws {
        let before = Date()
        let result = try await run("cat \(fixture("usage-limit-time.jsonl"))\nexit 1")
        let reset = try #require(date(result))
        #expect(reset > before && reset <= before.addingTimeInterval(86_400))
        #expect(Calendar.current.dateComponents([.hour, .minute], from: reset) == DateComponents(hour: 15, minute: 5))
    }

    @Test("usage limit: try again at Sep 19th, 2026 7:10 AM is that local time")
    func limitDate() async throws {
        let result = try await run("cat \(fixture("usage-limit-date.jsonl"))")
        let expected = Calendar.current.date(from: DateComponents(year: 2026, month: 9, day: 19, hour: 7, minute: 10))
        #expect(date(result) == expected)
        guard case .rateLimited(_, let message) = result.outcome else { return }
        #expect(message.hasPrefix("You've hit your usage limit."))
    }

    @Test("401 on stderr with a non-zero exit is an auth failure")
    func auth() async throws {
        let result = try await run("cat \(fixture("auth.stderr")) >&2\nexit 1")
        guard case .auth(let message) = result.outcome else {
            Issue.record("expected auth, got \(result.outcome)")
            return
        }
        #expect(message.contains("401 Unauthorized"))
    }

    @Test("a completed turn without a message is invalid output")
    func empty() async throws {
        let result = try await run("cat \(fixture("empty.jsonl"))")
        #expect(result.outcome == .invalidOutput("the agent gave an empty result"))
        #expect(result.usage.inputTokens == 900)
    }

    @Test("a non-zero exit without events is an error carrying stderr")
    func nonZeroExit() async throws {
        let result = try await run("cat \(fixture("bad-option.stderr")) >&2\nexit 2")
        #expect(result.outcome == .error("codex exited with status 2: error: unexpected argument '--bogus' found"))
    }

    @Test("a hang times out and its grandchild is killed")
    func hang() async throws {
        let result = try await AgentKillChecks.hang(
            CodexAdapter(), program: "codex", output: "head -n 1 \(fixture("success.jsonl"))")
        #expect(result.session == "0199a213-81c0-7800-8aa1-bbab2a035a53")
    }

    @Test("a grandchild left running after the call is killed")
    func grandchild() async throws {
        try await AgentKillChecks.grandchildAfterExit(
            CodexAdapter(), program: "codex", output: "cat \(fixture("success.jsonl"))")
    }
}
