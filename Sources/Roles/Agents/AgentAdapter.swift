/// One way of running an agent: a CLI (Claude Code, Codex, Gemini CLI, Aider, cursor-agent, a
/// user's command) or an HTTP API (OpenAI-compatible, Anthropic).
///
/// An adapter never throws for what the agent did: failures, limits, time-outs and bad output
/// are ``AgentResult/Outcome``s. It throws ``RoleError`` only when the call could not be made at
/// all (the transcript cannot be written).
public protocol AgentAdapter: Sendable {
    /// The name `planbus.yaml` uses (`claude`, `codex`, …).
    var name: String { get }
    /// Runs one call.
    func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult
}
