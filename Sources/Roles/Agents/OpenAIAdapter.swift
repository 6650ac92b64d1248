import Bus
import Foundation

/// An OpenAI-compatible Chat Completions API: OpenAI itself, vLLM, llama.cpp server, Ollama's
/// `/v1`, OpenRouter.
///
/// Contract:
/// - `POST {baseURL}/chat/completions` with `{"model", "messages": [{"role": "user", "content":
///   prompt}], "max_tokens"}` (`max_tokens` only when configured), `Authorization: Bearer <key>`
///   when an API-key variable is configured. The key is read from the request's environment, then
///   this process's; a configured variable that is unset or empty is ``AgentResult/Outcome/auth(_:)``
///   without any request.
/// - The answer is `choices[0].message.content`. `finish_reason` `content_filter` is an error; an
///   empty content is ``AgentResult/Outcome/invalidOutput(_:)``, and so is a body that is not a
///   chat completion, or (when the request wants JSON) content that is not JSON.
/// - Usage: `usage.prompt_tokens` → input, `completion_tokens` → output,
///   `prompt_tokens_details.cached_tokens` → cache read,
///   `completion_tokens_details.reasoning_tokens` → reasoning; every field is optional (compatible
///   servers often send none). `usage.cost` (OpenRouter) is a reported cost; otherwise the cost is
///   unknown.
/// - Retries follow ``HTTPRetryPolicy/openAI`` (never a 429 `insufficient_quota`); a 429 left
///   unretried is ``AgentResult/Outcome/rateLimited(until:message:)`` with the headers' reset;
///   401/403 are auth failures; the whole call, retries included, is bounded by the request's
///   timeout.
/// - The transcript gets every request and response body, headers with credentials redacted, and
///   the key itself never.
public struct OpenAIAdapter: AgentAdapter {
    public var name: String
    /// The API root, such as `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    public var baseURL: URL
    /// The environment variable holding the API key, or `nil` for a server that needs none.
    public var apiKeyVariable: String?
    /// The `max_tokens` sent, or `nil` to leave it to the server.
    public var maxTokens: Int?
    /// The model used when the request names none.
    public var defaultModel: String?
    /// When to try again.
    public var retry: HTTPRetryPolicy

    /// Creates an adapter.
    public init(
        name: String = "openai", baseURL: URL, apiKeyVariable: String? = "OPENAI_API_KEY", maxTokens: Int? = nil,
        defaultModel: String? = nil, retry: HTTPRetryPolicy = .openAI
    ) {
        self.name = name
        self.baseURL = baseURL
        self.apiKeyVariable = apiKeyVariable
        self.maxTokens = maxTokens
        self.defaultModel = defaultModel
        self.retry = retry
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        var key: String?
        if let apiKeyVariable {
            key = HTTPAgentCall.apiKey(apiKeyVariable, environment: request.environment)
            if key == nil { return AgentResult(outcome: .auth("\(apiKeyVariable) is not set")) }
        }
        guard let model = request.model ?? defaultModel else {
            return HTTPAgentCall.noModel
        }
        var body: [String: JSONValue] = [
            "model": .string(model), "messages": [["role": "user", "content": .string(request.prompt)]],
        ]
        if let maxTokens { body["max_tokens"] = .number(Double(maxTokens)) }
        var headers = ["Content-Type": "application/json", "Accept": "application/json"]
        if let key { headers["Authorization"] = "Bearer \(key)" }
        return try await HTTPAgentCall.run(
            request, url: baseURL.appendingPathComponent("chat/completions"), headers: headers, body: .object(body),
            policy: retry, secrets: key.map { [$0] } ?? [], interpret: Self.interpret)
    }

    /// Reads a successful Chat Completions body.
    static func interpret(_ body: Data, wantsJSON: Bool) -> AgentResult {
        guard let json = HTTPAgentCall.object(body) else {
            return AgentResult(outcome: .invalidOutput("the response body is not JSON"))
        }
        let usage = usage(json["usage"])
        guard let choice = json["choices"]?.arrayValue?.first, let message = choice["message"]?.objectValue else {
            return AgentResult(outcome: .invalidOutput("the response has no choices[0].message"), usage: usage)
        }
        let text = message["content"]?.stringValue ?? ""
        if choice["finish_reason"]?.stringValue == "content_filter" {
            return AgentResult(outcome: .error("the answer was withheld by a content filter"), text: text, usage: usage)
        }
        return HTTPAgentCall.answer(text, wantsJSON: wantsJSON, usage: usage)
    }

    /// Normalises `usage`; every field may be missing.
    static func usage(_ usage: JSONValue?) -> AgentUsage {
        guard let usage, usage.objectValue != nil else { return AgentUsage() }
        var result = AgentUsage(
            inputTokens: usage["prompt_tokens"]?.intValue, outputTokens: usage["completion_tokens"]?.intValue,
            cacheReadTokens: usage["prompt_tokens_details"]?["cached_tokens"]?.intValue,
            reasoningTokens: usage["completion_tokens_details"]?["reasoning_tokens"]?.intValue)
        if case .number(let cost) = usage["cost"] {
            result.costUSD = cost
            result.costSource = .reported
        }
        return result
    }
}
