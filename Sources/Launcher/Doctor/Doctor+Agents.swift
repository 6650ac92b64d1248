import Bus
import Foundation
import Roles

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
            let settings = config.agentSettings(for: role.name)
            let uses: [(what: String, profile: AgentProfile)] =
                [("agent", settings.primary), ("fallback", settings.fallback), ("reviewer", settings.reviewer)]
                .compactMap { what, profile in profile.map { (what, $0) } }
            for (what, profile) in uses {
                let agent = profile.agent
                let field = what == "agent" ? "roles.\(role.name).agent" : "roles.\(role.name).\(what)"
                if let program = profile.command?.first
                    ?? (Self.agentCommands.contains(agent)
                        ? profile.executable ?? agent : nil)
                {
                    let known =
                        program.contains("/")
                        ? (access(program, X_OK) == 0 ? program : nil)
                        : Self.find(program, in: searchPath)
                    if known == nil {
                        problems.append(
                            "role \(role.name) uses \(what) \(agent), but \(program) is "
                                + (program.contains("/") ? "not an executable file" : "not on PATH"))
                        fixes.append(
                            (profile.executable == nil && profile.command == nil
                                ? (Self.installCommands[agent] ?? agent) + " (or set agents.\(agent).executable)"
                                : "fix agents.\(agent) in the configuration") + " (or set \(field): none)")
                    }
                } else if Self.apiKeys[agent] != nil {
                    let key = profile.apiKeyEnv ?? Self.apiKeys[agent] ?? ""
                    if !key.isEmpty, (role.env[key] ?? environment[key] ?? "").isEmpty {
                        problems.append("role \(role.name) uses \(what) \(agent), but \(key) is not set")
                        fixes.append("export \(key)=... before planbus up (or set \(field): none)")
                    }
                }
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
