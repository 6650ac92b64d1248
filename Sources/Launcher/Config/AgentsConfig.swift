import Bus
import Roles

/// An agent and model named by a role's `fallback:` or `reviewer:`.
public struct AgentChoice: Sendable, Equatable {
    public var agent: String
    public var model: String?

    public init(agent: String, model: String? = nil) {
        self.agent = agent
        self.model = model
    }
}

/// The `agents:` section of `planbus.yaml`: how each agent is reached (`base_url`, `api_key_env`,
/// `executable`, the `command` agent's `argv` and `output`), prices, the run's cost limit, and
/// how long to wait on a limit that gives no reset time.
public struct AgentsConfig: Sendable, Equatable {
    /// Connection settings by agent name (their `agent` is that name; `model` is unused).
    public var endpoints: [String: AgentProfile] = [:]
    /// Prices added to (or replacing) the built-in table.
    public var prices = PriceTable()
    /// The most a run may cost over all roles, in dollars.
    public var maxRunCostUSD: Double?
    /// How long to wait when an agent is limited without saying until when.
    public var limitWait: Duration = .seconds(60)

    public init() {}
}

extension PlanbusConfig {
    /// The profile of `agent` with `model`, completed from the `agents:` section.
    public func profile(agent: String, model: String?) -> AgentProfile? {
        guard agent != "none" else { return nil }
        var profile = agents.endpoints[agent] ?? AgentProfile(agent: agent)
        profile.agent = agent
        profile.model = model
        return profile
    }

    /// What role `name` drives, for its process (`planbus role --agent-settings`).
    public func agentSettings(for name: String) -> AgentSettings {
        let role = self.role(name) ?? RoleConfig(name: name)
        var costs: [String: Double] = [:]
        for r in roles { if let cost = r.maxCostUSD { costs[r.name] = cost } }
        return AgentSettings(
            primary: profile(agent: role.agent, model: role.model),
            fallback: role.fallback.flatMap { profile(agent: $0.agent, model: $0.model) },
            reviewer: role.reviewer.flatMap { profile(agent: $0.agent, model: $0.model) },
            prices: PriceTable.builtIn.merging(agents.prices), maxRunCostUSD: agents.maxRunCostUSD,
            maxRoleCostUSD: costs, limitWait: agents.limitWait, maxQuestions: role.questions,
            roleAgents: Dictionary(roles.map { ($0.name, $0.agent) }, uniquingKeysWith: { first, _ in first }),
            keyVariables: keyVariables)
    }

    /// Every `api_key_env` of the `agents:` section, sorted: the variables whose values every role
    /// hides, whichever agent it drives.
    public var keyVariables: [String] {
        Set(agents.endpoints.values.compactMap(\.apiKeyEnv).filter { !$0.isEmpty }).sorted()
    }
}
