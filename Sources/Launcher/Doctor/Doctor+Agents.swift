import Bus
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Doctor {
    // MARK: Agents

    /// The agent CLIs planbus can drive, by agent name, in the order they are reported.
    static let agentCommands = ["claude", "codex", "gemini", "aider", "cursor-agent"]
    /// How to install each agent CLI.
    static let installCommands = [
        "claude": "npm install -g @anthropic-ai/claude-code", "codex": "npm install -g @openai/codex",
        "gemini": "npm install -g @google/gemini-cli", "aider": "python3 -m pip install aider-install && aider-install",
        "cursor-agent": "curl https://cursor.com/install -fsS | bash",
    ]
    /// The environment variable each API agent needs.
    static let apiKeys = ["openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"]

    /// Finds the agent CLIs on the search path and checks that every role that runs on this host
    /// (one or more instances) can use its agent.
    package func agents(config: PlanbusConfig?) -> DoctorCheck {
        let name = "agents"
        var found: [String: String] = [:]
        for command in Self.agentCommands {
            if let path = Self.find(command, in: searchPath) { found[command] = path }
        }
        let onPath = Self.agentCommands.compactMap { c in found[c].map { "\(c) (\($0))" } }
        var detail =
            onPath.isEmpty
            ? "no agent CLI on PATH (\(Self.agentCommands.joined(separator: ", ")))"
            : "on PATH: " + onPath.joined(separator: ", ")
        guard let config else { return .ok(name, detail + "; roles not checked: the configuration is invalid") }
        if onPath.isEmpty && config.roles.allSatisfy({ $0.instances == 0 || $0.agent == "none" }) {
            detail += ": offline mode; roles run without agents"
        }
        var problems: [String] = []
        var fixes: [String] = []
        for role in config.roles where role.instances > 0 {
            if Self.agentCommands.contains(role.agent), found[role.agent] == nil {
                problems.append("role \(role.name) uses agent \(role.agent), but \(role.agent) is not on PATH")
                fixes.append(
                    "\(Self.installCommands[role.agent] ?? role.agent) (or set roles.\(role.name).agent: none)")
            } else if let key = Self.apiKeys[role.agent], (role.env[key] ?? environment[key] ?? "").isEmpty {
                problems.append("role \(role.name) uses agent \(role.agent), but \(key) is not set")
                fixes.append("export \(key)=... before planbus up (or set roles.\(role.name).agent: none)")
            }
        }
        let users = config.roles.filter { $0.instances > 0 && $0.agent != "none" }.map { "\($0.name) → \($0.agent)" }
        if !users.isEmpty { detail += "; roles: " + users.joined(separator: ", ") }
        guard problems.isEmpty else {
            let fix = fixes.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            return .failure(name, problems.joined(separator: "; ") + "; " + detail, fix: fix.joined(separator: "\n"))
        }
        return .ok(name, detail)
    }
}
