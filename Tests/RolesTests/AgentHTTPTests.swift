import Bus
import BusTesting
import Foundation
import Processes
import Testing

@testable import Roles

private func reply(
    _ status: Int, _ file: String? = nil, headers: [String: String] = [:], delay: Double = 0
) -> (status: Int, file: String?, headers: [String: String], delay: Double) {
    (status, file, headers, delay)
}

private let secret = "sk-test-4f9a1c7e2b"

private func request(
    _ transcript: String, model: String? = "m1", timeout: Duration = .seconds(30), wantsJSON: Bool = false,
    environment: [String: String] = ["OPENAI_API_KEY": secret, "ANTHROPIC_API_KEY": secret]
) -> AgentRequest {
    AgentRequest(
        role: "builder", prompt: "Rename total to subtotal.", directory: "/tmp", model: model, timeout: timeout,
        wantsJSON: wantsJSON, transcript: transcript, environment: environment)
}

private func transcriptPath() -> String {
    FileManager.default.temporaryDirectory.path + "/planbus-transcript-" + UUID().uuidString.prefix(8) + ".log"
}

private func contents(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

@Suite("Agent HTTP adapters")
struct AgentHTTPTests {
    @Test(
        "OpenAI: a 200 with usage is ok; the request carries the key, model and max_tokens; the transcript hides the key"
    )
    func openAIOK() async throws {
        let stub = try await HTTPStub([reply(200, "openai-ok.json")])
        let transcript = transcriptPath()
        let adapter = OpenAIAdapter(baseURL: stub.baseURL.appendingPathComponent("v1"), maxTokens: 2048)
        let result = try await adapter.run(request(transcript))
        let requests = stub.requests
        await stub.stop()
        #expect(result.outcome == .ok)
        #expect(result.text == "Renamed `total` to `subtotal` in cart.py and updated both callers.")
        #expect(
            result.usage
                == AgentUsage(
                    inputTokens: 1204, outputTokens: 388, cacheReadTokens: 1024, reasoningTokens: 256,
                    costSource: .unknown))
        #expect(requests.count == 1)
        #expect(requests.first?["path"]?.stringValue == "/v1/chat/completions")
        #expect(requests.first?["headers"]?["authorization"]?.stringValue == "Bearer \(secret)")
        let body = try JSONValue.parse(try #require(requests.first?["body"]?.stringValue))
        #expect(body["model"]?.stringValue == "m1")
        #expect(body["max_tokens"]?.intValue == 2048)
        #expect(body["messages"]?.arrayValue?.first?["content"]?.stringValue == "Rename total to subtotal.")
        let log = contents(transcript)
        #expect(log.contains("Rename total to subtotal."))
        #expect(log.contains("updated both callers"))
        #expect(!log.contains(secret))
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI-compatible server without usage and without a key: ok, no tokens, cost unknown, JSON parsed")
    func openAINoUsage() async throws {
        let stub = try await HTTPStub([reply(200, "openai-no-usage.json")])
        let transcript = transcriptPath()
        let adapter = OpenAIAdapter(
            name: "ollama", baseURL: stub.baseURL.appendingPathComponent("v1"), apiKeyVariable: nil)
        let result = try await adapter.run(request(transcript, wantsJSON: true, environment: [:]))
        let requests = stub.requests
        await stub.stop()
        #expect(result.outcome == .ok)
        #expect(result.usage == AgentUsage())
        #expect(result.json?["verdict"]?.stringValue == "pass")
        #expect(requests.first?["headers"]?["authorization"] == nil)
        #expect(requests.first.flatMap { try? JSONValue.parse($0["body"]?.stringValue ?? "") }?["max_tokens"] == nil)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenRouter: a reported cost and a fenced JSON answer")
    func openRouterCostAndFencedJSON() async throws {
        let stub = try await HTTPStub([reply(200, "openai-fenced-json.json")])
        let transcript = transcriptPath()
        let adapter = OpenAIAdapter(name: "openrouter", baseURL: stub.baseURL, apiKeyVariable: "OPENROUTER_KEY")
        let result = try await adapter.run(
            request(transcript, wantsJSON: true, environment: ["OPENROUTER_KEY": secret]))
        await stub.stop()
        #expect(result.outcome == .ok)
        #expect(result.json?["notes"]?.arrayValue?.first?.stringValue == "test_cart fails")
        #expect(result.usage.costUSD == 0.0001215)
        #expect(result.usage.costSource == .reported)
        #expect(result.usage.inputTokens == 310)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI: an empty answer is invalid output")
    func openAIEmpty() async throws {
        let stub = try await HTTPStub([reply(200, "openai-empty.json")])
        let transcript = transcriptPath()
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript))
        await stub.stop()
        #expect(result.outcome == .invalidOutput("empty result"))
        #expect(result.usage.inputTokens == 9000)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI: a malformed body is invalid output, not retried")
    func openAIMalformed() async throws {
        let stub = try await HTTPStub([reply(200, "openai-malformed.txt")])
        let transcript = transcriptPath()
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript))
        let count = stub.requests.count
        await stub.stop()
        guard case .invalidOutput = result.outcome else {
            Issue.record("expected invalidOutput, got \(result.outcome)")
            return
        }
        #expect(count == 1)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI: a 429 with retry-after is retried after the wait, then succeeds")
    func openAIRetryAfter() async throws {
        let stub = try await HTTPStub([
            reply(429, "openai-rate-limit.json", headers: ["retry-after": "1"]), reply(200, "openai-ok.json"),
        ])
        let transcript = transcriptPath()
        let started = ContinuousClock.now
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript))
        let elapsed = ContinuousClock.now - started
        let requests = stub.requests
        await stub.stop()
        #expect(result.outcome == .ok)
        #expect(requests.count == 2)
        #expect(elapsed >= .seconds(1))
        if requests.count == 2, case .number(let first) = requests[0]["time"],
            case .number(let second) = requests[1]["time"]
        {
            #expect(second - first >= 1.0)
        }
        #expect(contents(transcript).contains("retrying in"))
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI: a 500 then a 200 is retried and ok")
    func openAIServerErrorThenOK() async throws {
        let stub = try await HTTPStub([
            reply(500, "openai-server-error.json", headers: ["retry-after-ms": "50"]), reply(200, "openai-ok.json"),
        ])
        let transcript = transcriptPath()
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript))
        let count = stub.requests.count
        await stub.stop()
        #expect(result.outcome == .ok)
        #expect(count == 2)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI: 500s past the retries are an error after exactly three attempts")
    func openAIRetriesExhausted() async throws {
        let stub = try await HTTPStub([reply(500, "openai-server-error.json", headers: ["retry-after-ms": "20"])])
        let transcript = transcriptPath()
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript))
        let count = stub.requests.count
        await stub.stop()
        #expect(
            result.outcome
                == .error(
                    "HTTP 500: server_error: The server had an error while processing your request. Sorry about that!"))
        #expect(count == 3)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI: insufficient_quota is never retried and is a rate limit with the headers' reset")
    func openAIInsufficientQuota() async throws {
        let stub = try await HTTPStub([
            reply(429, "openai-insufficient-quota.json", headers: ["x-ratelimit-reset-requests": "6m0s"]),
            reply(200, "openai-ok.json"),
        ])
        let transcript = transcriptPath()
        let before = Timestamp.now()
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript))
        let after = Timestamp.now()
        let count = stub.requests.count
        await stub.stop()
        #expect(count == 1)
        guard case .rateLimited(let until, let message) = result.outcome else {
            Issue.record("expected rateLimited, got \(result.outcome)")
            return
        }
        #expect(message.contains("insufficient_quota"))
        let reset = try #require(until)
        // Six minutes from when the response came, within the clocks' millisecond rounding.
        #expect(reset.milliseconds >= before.milliseconds + 360_000 - 5)
        #expect(reset.milliseconds <= after.milliseconds + 360_000 + 5)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("OpenAI: a 401 is an auth failure, not retried")
    func openAIUnauthorized() async throws {
        let stub = try await HTTPStub([reply(401, "openai-unauthorized.json")])
        let transcript = transcriptPath()
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript))
        let count = stub.requests.count
        await stub.stop()
        guard case .auth(let message) = result.outcome else {
            Issue.record("expected auth, got \(result.outcome)")
            return
        }
        #expect(message.contains("invalid_api_key"))
        #expect(count == 1)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("A missing API key is an auth failure without any request")
    func missingKey() async throws {
        let stub = try await HTTPStub([reply(200, "openai-ok.json")])
        let transcript = transcriptPath()
        let variable = "PLANBUS_TEST_UNSET_KEY_\(UUID().uuidString.prefix(6))"
        let openAI = try await OpenAIAdapter(baseURL: stub.baseURL, apiKeyVariable: variable).run(
            request(transcript, environment: [:]))
        let anthropic = try await AnthropicAdapter(baseURL: stub.baseURL, apiKeyVariable: variable).run(
            request(transcript, environment: [variable: ""]))
        let count = stub.requests.count
        await stub.stop()
        #expect(openAI.outcome == .auth("\(variable) is not set"))
        #expect(anthropic.outcome == .auth("\(variable) is not set"))
        #expect(count == 0)
    }

    @Test("A server that does not answer in time is a timeout")
    func timeout() async throws {
        let stub = try await HTTPStub([reply(200, "openai-ok.json", delay: 30)])
        let transcript = transcriptPath()
        let started = ContinuousClock.now
        let result = try await OpenAIAdapter(baseURL: stub.baseURL).run(request(transcript, timeout: .seconds(1)))
        let elapsed = ContinuousClock.now - started
        await stub.stop()
        #expect(result.outcome == .timeout)
        #expect(elapsed >= .seconds(1))
        // Cancelled at the deadline, not answered: the stub holds its reply for 30 s.
        #expect(elapsed < .seconds(25))
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("No server listening: a connection error after the retries")
    func connectionRefused() async throws {
        let stub = try await HTTPStub([reply(200, "openai-ok.json")])
        let url = stub.baseURL
        await stub.stop()
        let transcript = transcriptPath()
        let result = try await OpenAIAdapter(baseURL: url).run(request(transcript))
        guard case .error(let message) = result.outcome else {
            Issue.record("expected error, got \(result.outcome)")
            return
        }
        #expect(message.hasPrefix("connection failed"))
        #expect(contents(transcript).components(separatedBy: "! connection failed").count == 4)
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("Anthropic: a 200 with cache usage; x-api-key, anthropic-version and max_tokens sent; key redacted")
    func anthropicOK() async throws {
        let stub = try await HTTPStub([reply(200, "anthropic-ok.json")])
        let transcript = transcriptPath()
        let adapter = AnthropicAdapter(baseURL: stub.baseURL, maxTokens: 1000, defaultModel: "claude-sonnet-4-5")
        let result = try await adapter.run(request(transcript, model: nil))
        let requests = stub.requests
        await stub.stop()
        #expect(result.outcome == .ok)
        #expect(result.text == "The change is correct: both callers use `subtotal`.")
        #expect(
            result.usage
                == AgentUsage(inputTokens: 42, outputTokens: 97, cacheReadTokens: 16384, cacheWriteTokens: 2051))
        let first = try #require(requests.first)
        #expect(first["path"]?.stringValue == "/v1/messages")
        #expect(first["headers"]?["x-api-key"]?.stringValue == secret)
        #expect(first["headers"]?["anthropic-version"]?.stringValue == "2023-06-01")
        let body = try JSONValue.parse(try #require(first["body"]?.stringValue))
        #expect(body["max_tokens"]?.intValue == 1000)
        #expect(body["model"]?.stringValue == "claude-sonnet-4-5")
        let log = contents(transcript)
        #expect(log.contains("x-api-key: [redacted]"))
        #expect(!log.contains(secret))
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("Anthropic: 529 overloaded is retried, then ok")
    func anthropicOverloaded() async throws {
        let stub = try await HTTPStub([reply(529, "anthropic-overloaded.json"), reply(200, "anthropic-ok.json")])
        let transcript = transcriptPath()
        let started = ContinuousClock.now
        let result = try await AnthropicAdapter(baseURL: stub.baseURL).run(request(transcript))
        let elapsed = ContinuousClock.now - started
        let count = stub.requests.count
        await stub.stop()
        #expect(result.outcome == .ok)
        #expect(count == 2)
        // No retry-after: the first backoff is 0.5 s less at most 25 %.
        #expect(elapsed >= .milliseconds(375))
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("Anthropic: a 429 the server says not to retry is a rate limit until the reset header")
    func anthropicRateLimitNoRetry() async throws {
        let reset = "2026-11-22T10:15:00Z"
        let stub = try await HTTPStub([
            reply(
                429, "anthropic-rate-limit.json",
                headers: [
                    "x-should-retry": "false", "anthropic-ratelimit-requests-reset": reset,
                    "anthropic-ratelimit-requests-remaining": "0",
                ]),
            reply(200, "anthropic-ok.json"),
        ])
        let transcript = transcriptPath()
        let result = try await AnthropicAdapter(baseURL: stub.baseURL).run(request(transcript))
        let count = stub.requests.count
        await stub.stop()
        #expect(count == 1)
        guard case .rateLimited(let until, let message) = result.outcome else {
            Issue.record("expected rateLimited, got \(result.outcome)")
            return
        }
        #expect(until == Timestamp(rfc3339: reset))
        #expect(message.contains("rate_limit_error"))
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("Anthropic: 429s past the retries are a rate limit, after exactly three attempts")
    func anthropicRateLimitExhausted() async throws {
        let stub = try await HTTPStub([reply(429, "anthropic-rate-limit.json", headers: ["retry-after-ms": "20"])])
        let transcript = transcriptPath()
        let result = try await AnthropicAdapter(baseURL: stub.baseURL).run(request(transcript))
        let count = stub.requests.count
        await stub.stop()
        #expect(count == 3)
        guard case .rateLimited(let until, let message) = result.outcome else {
            Issue.record("expected rateLimited, got \(result.outcome)")
            return
        }
        #expect(until != nil)
        #expect(message.hasPrefix("HTTP 429: rate_limit_error: This request would exceed the rate limit"))
        try? FileManager.default.removeItem(atPath: transcript)
    }

    @Test("A transcript that cannot be written is a RoleError io, and no request is sent")
    func unwritableTranscript() async throws {
        let stub = try await HTTPStub([reply(200, "anthropic-ok.json")])
        let missing = FileManager.default.temporaryDirectory.path + "/planbus-none-\(UUID().uuidString)/t.log"
        await #expect(throws: RoleError.self) {
            _ = try await AnthropicAdapter(baseURL: stub.baseURL).run(request(missing))
        }
        let count = stub.requests.count
        await stub.stop()
        #expect(count == 0)
    }

    @Test("Anthropic: a 401 is an auth failure")
    func anthropicUnauthorized() async throws {
        let stub = try await HTTPStub([reply(401, "anthropic-unauthorized.json")])
        let transcript = transcriptPath()
        let result = try await AnthropicAdapter(baseURL: stub.baseURL).run(request(transcript))
        await stub.stop()
        #expect(result.outcome == .auth("HTTP 401: authentication_error: invalid x-api-key"))
        try? FileManager.default.removeItem(atPath: transcript)
    }
}

@Suite("HTTP retry policy")
struct HTTPRetryPolicyTests {
    @Test("x-should-retry decides first; then 408, 409, 429 and ≥ 500; never insufficient_quota")
    func retryable() {
        let policy = HTTPRetryPolicy.openAI
        #expect(policy.isRetryable(status: 400, headers: ["x-should-retry": "true"], errorCode: nil))
        #expect(!policy.isRetryable(status: 503, headers: ["x-should-retry": "false"], errorCode: nil))
        for status in [408, 409, 429, 500, 502, 529] {
            #expect(policy.isRetryable(status: status, headers: [:], errorCode: nil))
        }
        for status in [400, 401, 403, 404, 422] {
            #expect(!policy.isRetryable(status: status, headers: [:], errorCode: nil))
        }
        #expect(!policy.isRetryable(status: 429, headers: ["x-should-retry": "true"], errorCode: "insufficient_quota"))
    }

    @Test("The wait: retry-after-ms, retry-after seconds or date within the cap, else capped backoff with jitter")
    func delays() throws {
        let now = Date(timeIntervalSince1970: 1_795_339_200)
        let anthropic = HTTPRetryPolicy.anthropic
        let openAI = HTTPRetryPolicy.openAI
        #expect(
            anthropic.delay(retriesSoFar: 0, headers: ["retry-after-ms": "250", "retry-after": "9"], now: now)
                == .milliseconds(250))
        #expect(anthropic.delay(retriesSoFar: 0, headers: ["retry-after": "3"], now: now) == .seconds(3))
        let date = "Sun, 22 Nov 2026 00:00:30 GMT"
        #expect(HTTPRetryPolicy.httpDate(date)?.timeIntervalSince1970 == 1_795_305_630)
        let dateNow = Date(timeIntervalSince1970: 1_795_305_600)
        #expect(anthropic.delay(retriesSoFar: 0, headers: ["retry-after": date], now: dateNow) == .seconds(30))
        // 90 s is honoured by the OpenAI rules (≤ 120 s) but not by Anthropic's (≤ 60 s).
        #expect(openAI.delay(retriesSoFar: 0, headers: ["retry-after": "90"], now: now) == .seconds(90))
        #expect(
            anthropic.delay(retriesSoFar: 0, headers: ["retry-after": "90"], jitter: 0, now: now) == .milliseconds(500))
        #expect(anthropic.delay(retriesSoFar: 1, headers: [:], jitter: 0) == .seconds(1))
        #expect(anthropic.delay(retriesSoFar: 2, headers: [:], jitter: 1) == .milliseconds(1500))
        #expect(anthropic.delay(retriesSoFar: 9, headers: [:], jitter: 0) == .seconds(8))
        #expect(anthropic.delay(retriesSoFar: 9, headers: [:], jitter: 1) == .seconds(6))
        #expect(anthropic.delay(retriesSoFar: 0, headers: ["retry-after": "-5"], jitter: 0) == .milliseconds(500))
    }

    @Test("The reset time from retry-after, anthropic-ratelimit-*-reset or x-ratelimit-reset-*")
    func resetTimes() {
        let now = Date(timeIntervalSince1970: 1_795_339_200)
        #expect(HTTPRetryPolicy.resetTime(headers: ["retry-after": "30"], now: now)?.milliseconds == 1_795_339_230_000)
        #expect(
            HTTPRetryPolicy.resetTime(
                headers: [
                    "anthropic-ratelimit-requests-reset": "2026-11-22T10:15:00Z",
                    "anthropic-ratelimit-tokens-reset": "2026-11-22T10:20:00Z",
                ], now: now) == Timestamp(rfc3339: "2026-11-22T10:20:00Z"))
        #expect(
            HTTPRetryPolicy.resetTime(
                headers: ["x-ratelimit-reset-requests": "120ms", "x-ratelimit-reset-tokens": "1m30.5s"], now: now)?
                .milliseconds == 1_795_339_290_500)
        #expect(HTTPRetryPolicy.resetTime(headers: ["x-ratelimit-reset-tokens": "soon"], now: now) == nil)
        #expect(HTTPRetryPolicy.resetTime(headers: [:], now: now) == nil)
    }
}
