import Bus
import Foundation

/// The Anthropic Messages API.
///
/// Contract:
/// - `POST {baseURL}/v1/messages` with `{"model", "max_tokens", "messages": [{"role": "user",
///   "content": prompt}]}` and headers `x-api-key` (read from the request's environment, then this
///   process's; unset or empty is ``AgentResult/Outcome/auth(_:)`` without any request) and
///   `anthropic-version: 2023-06-01`. `max_tokens` is required by the API, so the adapter always
///   has one.
/// - The answer is the `text` blocks of `content`, joined. `stop_reason` `refusal` is an error; an
///   empty answer is ``AgentResult/Outcome/invalidOutput(_:)``, and so is a body that is not a
///   message, or (when the request wants JSON) an answer that is not JSON.
/// - Usage: `input_tokens`, `output_tokens`, `cache_read_input_tokens` → cache read,
///   `cache_creation_input_tokens` → cache write; each optional. The API reports no cost: unknown.
/// - Errors have the shape `{"type": "error", "error": {"type", "message"}}`. Retries follow
///   ``HTTPRetryPolicy/anthropic`` (429 `rate_limit_error`, 529 `overloaded_error`, other ≥ 500);
///   a 429 left unretried is ``AgentResult/Outcome/rateLimited(until:message:)`` with the reset
///   from `retry-after` or `anthropic-ratelimit-*-reset`; a 529 left is an error; 401/403 are auth
///   failures; the whole call, retries included, is bounded by the request's timeout.
/// - The transcript gets every request and response body, headers with credentials redacted, and
///   the key itself never.
public struct AnthropicAdapter: AgentAdapter {
    public var name: String
    /// The API root, such as `https://api.anthropic.com`.
    public var baseURL: URL
    /// The environment variable holding the API key.
    public var apiKeyVariable: String
    /// The `max_tokens` sent.
    public var maxTokens: Int
    /// The model used when the request names none.
    public var defaultModel: String?
    /// When to try again.
    public var retry: HTTPRetryPolicy

    /// The `anthropic-version` header sent.
    public static let apiVersion = "2023-06-01"

    /// Creates an adapter.
    public init(
        name: String = "anthropic", baseURL: URL, apiKeyVariable: String = "ANTHROPIC_API_KEY",
        maxTokens: Int = 8192, defaultModel: String? = nil, retry: HTTPRetryPolicy = .anthropic
    ) {
        self.name = name
        self.baseURL = baseURL
        self.apiKeyVariable = apiKeyVariable
        self.maxTokens = maxTokens
        self.defaultModel = defaultModel
        self.retry = retry
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        guard let key = HTTPAgentCall.apiKey(apiKeyVariable, environment: request.environment) else {
            return AgentResult(outcome: .auth("\(apiKeyVariable) is not set"))
        }
        guard let model = request.model ?? defaultModel else {
            return HTTPAgentCall.noModel
        }
        let body: JSONValue = [
            "model": .string(model), "max_tokens": .number(Double(maxTokens)),
            "messages": [["role": "user", "content": .string(request.prompt)]],
        ]
        let headers = [
            "Content-Type": "application/json", "Accept": "application/json", "x-api-key": key,
            "anthropic-version": Self.apiVersion,
        ]
        return try await HTTPAgentCall.run(
            request, url: baseURL.appendingPathComponent("v1/messages"), headers: headers, body: body, policy: retry,
            secrets: [key], interpret: Self.interpret)
    }

    /// Reads a successful Messages body.
    static func interpret(_ body: Data, wantsJSON: Bool) -> AgentResult {
        guard let json = HTTPAgentCall.object(body) else {
            return AgentResult(outcome: .invalidOutput("the response body is not JSON"))
        }
        let usage = usage(json["usage"])
        guard let blocks = json["content"]?.arrayValue else {
            return AgentResult(outcome: .invalidOutput("the response has no content"), usage: usage)
        }
        let text = blocks.filter { $0["type"]?.stringValue == "text" }.compactMap { $0["text"]?.stringValue }
            .joined()
        if json["stop_reason"]?.stringValue == "refusal" {
            return AgentResult(outcome: .error("the model refused"), text: text, usage: usage)
        }
        return HTTPAgentCall.answer(text, wantsJSON: wantsJSON, usage: usage)
    }

    /// Normalises `usage`; every field may be missing.
    static func usage(_ usage: JSONValue?) -> AgentUsage {
        guard let usage, usage.objectValue != nil else { return AgentUsage() }
        return AgentUsage(
            inputTokens: usage["input_tokens"]?.intValue, outputTokens: usage["output_tokens"]?.intValue,
            cacheReadTokens: usage["cache_read_input_tokens"]?.intValue,
            cacheWriteTokens: usage["cache_creation_input_tokens"]?.intValue)
    }
}
