import Bus

/// Everything a role process needs to drive its agents: which agent (and a fallback while that
/// one is rate-limited), a second reviewer for the verifier, prices, and cost limits.
///
/// Built from `planbus.yaml` (the role's `agent`, `model`, `fallback`, `reviewer`,
/// `max_cost_usd`, `questions`, and the `agents:` section) and passed to the role process on its
/// command line as JSON (``json``), so a re-spawned process drives exactly what it drove before.
public struct AgentSettings: Sendable, Equatable {
    /// The agent the role drives; `nil` is offline (`agent: none`).
    public var primary: AgentProfile?
    /// The agent used while the primary's provider is rate-limited.
    public var fallback: AgentProfile?
    /// The verifier's second reviewer: when the two disagree, the judge decides.
    public var reviewer: AgentProfile?
    /// Prices for estimated costs: the built-in table merged with the configuration's.
    public var prices: PriceTable
    /// The most a run may cost, in dollars, over all roles.
    public var maxRunCostUSD: Double?
    /// The most each role may spend on one run, in dollars, by role name.
    public var maxRoleCostUSD: [String: Double]
    /// How long to wait when an agent says it is limited but not until when.
    public var limitWait: Duration
    /// The most questions the planner asks people before planning a free-text goal (0 = none).
    public var maxQuestions: Int
    /// The agent each role of the configuration drives (`none` offline), so the planner knows
    /// whether a task without a `run` step can be built.
    public var roleAgents: [String: String]
    /// The variables holding an API key anywhere in the configuration (every agent's
    /// `api_key_env`, whichever role drives it): every role hides their values in what it writes
    /// to the bus, whatever the variables are called, even when it drives no agent itself.
    public var keyVariables: [String]

    public init(
        primary: AgentProfile? = nil, fallback: AgentProfile? = nil, reviewer: AgentProfile? = nil,
        prices: PriceTable = .builtIn, maxRunCostUSD: Double? = nil, maxRoleCostUSD: [String: Double] = [:],
        limitWait: Duration = .seconds(60), maxQuestions: Int = 4, roleAgents: [String: String] = [:],
        keyVariables: [String] = []
    ) {
        self.keyVariables = keyVariables
        self.primary = primary
        self.fallback = fallback
        self.reviewer = reviewer
        self.prices = prices
        self.maxRunCostUSD = maxRunCostUSD
        self.maxRoleCostUSD = maxRoleCostUSD
        self.limitWait = limitWait
        self.maxQuestions = maxQuestions
        self.roleAgents = roleAgents
    }

    /// Offline: no agent.
    public static let offline = AgentSettings()

    /// The JSON form passed on a role's command line (`--agent-settings`).
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "prices": prices.json, "max_role_cost_usd": .object(maxRoleCostUSD.mapValues(JSONValue.number)),
            "limit_wait_ms": .number(Double(CheckText.milliseconds(limitWait))),
            "max_questions": .number(Double(maxQuestions)),
            "role_agents": .object(roleAgents.mapValues(JSONValue.string)),
            "key_variables": .array(keyVariables.map(JSONValue.string)),
        ]
        if let primary { o["primary"] = primary.json }
        if let fallback { o["fallback"] = fallback.json }
        if let reviewer { o["reviewer"] = reviewer.json }
        if let maxRunCostUSD { o["max_run_cost_usd"] = .number(maxRunCostUSD) }
        return .object(o)
    }

    /// Reads ``json``.
    /// - Throws: ``RoleError`` `invalidRequest` for a profile without an agent.
    public init(json: JSONValue) throws(RoleError) {
        func profile(_ key: String) throws(RoleError) -> AgentProfile? {
            guard let value = json[key], value != .null else { return nil }
            return try AgentProfile(json: value)
        }
        var roleCosts: [String: Double] = [:]
        for (role, value) in json["max_role_cost_usd"]?.objectValue ?? [:] {
            if let cost = AgentReply.double(value) { roleCosts[role] = cost }
        }
        self.init(
            primary: try profile("primary"), fallback: try profile("fallback"), reviewer: try profile("reviewer"),
            prices: json["prices"].map(PriceTable.init(json:)) ?? .builtIn,
            maxRunCostUSD: AgentReply.double(json["max_run_cost_usd"]), maxRoleCostUSD: roleCosts,
            limitWait: .milliseconds(json["limit_wait_ms"]?.intValue ?? 60_000),
            maxQuestions: json["max_questions"]?.intValue ?? 4,
            roleAgents: (json["role_agents"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
            keyVariables: json["key_variables"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }
}
