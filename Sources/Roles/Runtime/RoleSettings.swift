/// How one role process runs: which instance it is, which agent and model it drives, its limits.
public struct RoleSettings: Sendable, Equatable {
    /// The role name (its queue).
    public var role: String
    /// The instance number the supervisor gave it (0-based), shown in `planbus ps`.
    public var instance: Int
    /// The host name to claim under (`nil` = this machine's name). Another name makes the process
    /// judged by heartbeats alone, as a process on another host is.
    public var host: String?
    /// The agent the role drives (`none` = offline).
    public var agent: String
    /// The model the agent uses, if any.
    public var model: String?
    /// Longest a handler may work on one envelope (`nil` = no limit).
    public var envelopeTimeout: Duration?
    /// After SIGTERM or a stop file, how long the envelope in hand may take before it is released.
    public var stopGrace: Duration
    /// The agents the role drives, their prices and cost limits (offline by default).
    public var agents: AgentSettings = .offline

    public init(
        role: String, instance: Int = 0, host: String? = nil, agent: String = "none", model: String? = nil,
        envelopeTimeout: Duration? = .seconds(1_800), stopGrace: Duration = .seconds(10)
    ) {
        self.role = role
        self.instance = instance
        self.host = host
        self.agent = agent
        self.model = model
        self.envelopeTimeout = envelopeTimeout
        self.stopGrace = stopGrace
    }
}
