import Bus
import Foundation

/// One agent a role can drive: which adapter, which model, and how to reach it.
///
/// In `planbus.yaml` the agent and model come from the role (`agent:`, `model:`, `fallback:`,
/// `reviewer:`), the rest from the `agents:` section shared by all roles.
public struct AgentProfile: Sendable, Equatable {
    /// The adapter: `claude`, `codex`, `gemini`, `aider`, `cursor-agent`, `command`, `openai` or
    /// `anthropic` (`none` is no agent).
    public var agent: String
    /// The model, or `nil` for the agent's default.
    public var model: String?
    /// The API's base URL (`openai`, `anthropic`).
    public var baseURL: String?
    /// The environment variable holding the API key (`openai`, `anthropic`).
    public var apiKeyEnv: String?
    /// The program to run instead of the adapter's usual one (a CLI's path).
    public var executable: String?
    /// The argv template of the `command` agent.
    public var command: [String]?
    /// How the `command` agent answers: `text` or `json`.
    public var output: String?

    public init(
        agent: String, model: String? = nil, baseURL: String? = nil, apiKeyEnv: String? = nil,
        executable: String? = nil, command: [String]? = nil, output: String? = nil
    ) {
        self.agent = agent
        self.model = model
        self.baseURL = baseURL
        self.apiKeyEnv = apiKeyEnv
        self.executable = executable
        self.command = command
        self.output = output
    }

    /// What shares a rate limit: the agent, and for an HTTP API its host too (two OpenAI-compatible
    /// servers do not share quotas). A file name (`quota/<provider>.json`).
    public var provider: String {
        var name = agent
        if let baseURL, let host = URL(string: baseURL)?.host {
            name += "@" + host
            if let port = URL(string: baseURL)?.port { name += "_\(port)" }
        }
        return String(name.map { $0.isLetter || $0.isNumber || "-_.@".contains($0) ? $0 : "_" })
    }

    /// A short label: `claude/claude-sonnet-4`, `openai`.
    public var label: String { model.map { "\(agent)/\($0)" } ?? agent }

    /// The JSON form, passed to role processes on their command line.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["agent": .string(agent)]
        if let model { o["model"] = .string(model) }
        if let baseURL { o["base_url"] = .string(baseURL) }
        if let apiKeyEnv { o["api_key_env"] = .string(apiKeyEnv) }
        if let executable { o["executable"] = .string(executable) }
        if let command { o["command"] = .array(command.map(JSONValue.string)) }
        if let output { o["output"] = .string(output) }
        return .object(o)
    }

    /// Reads ``json``.
    /// - Throws: ``RoleError`` `invalidRequest` without an agent.
    public init(json: JSONValue) throws(RoleError) {
        guard let agent = json["agent"]?.stringValue, !agent.isEmpty else {
            throw RoleError(.invalidRequest, "an agent profile needs an agent")
        }
        self.init(
            agent: agent, model: json["model"]?.stringValue, baseURL: json["base_url"]?.stringValue,
            apiKeyEnv: json["api_key_env"]?.stringValue, executable: json["executable"]?.stringValue,
            command: json["command"]?.arrayValue?.compactMap(\.stringValue), output: json["output"]?.stringValue)
    }
}
