import Foundation

/// The adapters by name: what `agent:` in `planbus.yaml` may say, and the adapter each profile
/// runs with.
public enum AgentCatalog {
    /// Every agent name, `none` (offline) first.
    public static let names = [
        "none", "claude", "codex", "gemini", "aider", "cursor-agent", "command", "openai", "anthropic",
    ]

    /// The default base URL of each HTTP API.
    public static let defaultBaseURLs = [
        "openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1",
    ]

    /// True when the agent resumes a vendor session (`AgentRequest.resumeSession`).
    public static func resumes(_ agent: String) -> Bool {
        ["claude", "codex", "gemini", "cursor-agent", "command"].contains(agent)
    }

    /// The adapter that runs `profile`.
    /// - Throws: ``RoleError`` `invalidRequest` for an unknown agent, `none`, a `command` agent
    ///   without a valid template, or a base URL that is not a URL.
    public static func adapter(for profile: AgentProfile) throws(RoleError) -> any AgentAdapter {
        switch profile.agent {
        case "claude": return ClaudeAdapter(executable: profile.executable ?? "claude")
        case "codex": return CodexAdapter(executable: profile.executable ?? "codex")
        case "gemini": return GeminiAdapter(executable: profile.executable ?? "gemini")
        case "aider": return AiderAdapter(executable: profile.executable ?? "aider")
        case "cursor-agent": return CursorAgentAdapter(executable: profile.executable ?? "cursor-agent")
        case "command":
            guard let template = profile.command else {
                throw RoleError(
                    .invalidRequest, "agent command needs agents.command.argv in planbus.yaml (the program to run)")
            }
            let output = CommandAdapter.Output(rawValue: profile.output ?? "text") ?? .text
            return try CommandAdapter(template: template, output: output)
        case "openai", "anthropic":
            let text = profile.baseURL ?? defaultBaseURLs[profile.agent]!
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else {
                throw RoleError(.invalidRequest, "agent \(profile.agent): base_url \(text) is not an http(s) URL")
            }
            if profile.agent == "openai" {
                // An empty api_key_env sends no key (a local server).
                let key = profile.apiKeyEnv ?? "OPENAI_API_KEY"
                return OpenAIAdapter(baseURL: url, apiKeyVariable: key.isEmpty ? nil : key)
            }
            return AnthropicAdapter(baseURL: url, apiKeyVariable: profile.apiKeyEnv ?? "ANTHROPIC_API_KEY")
        default:
            throw RoleError(
                .invalidRequest,
                "no agent \"\(profile.agent)\" (agents: \(names.joined(separator: ", ")))")
        }
    }
}
