import Bus
import Roles

/// The contents of `planbus.yaml`: where the bus and the target repository are, how the supervisor
/// restarts roles, and how many instances of each role run with which agent.
///
/// Every field has a default, so an empty file (or no file) is a working configuration. See
/// `docs/CONFIG.md` for the file format, field by field.
public struct PlanbusConfig: Sendable, Equatable {
    /// The file this was read from (absolute), or `nil` for the built-in defaults.
    public var file: String?
    /// The bus directory, absolute (relative paths in the file are resolved against its folder).
    public var bus: String
    /// The target git repository, absolute.
    public var repository: String
    /// The planner's backlog folder, absolute: plan files dropped there are submitted once each
    /// (`nil` = no backlog).
    public var backlog: String?
    /// Bus tunables to write into the bus's `bus.json` (only the fields the file sets).
    public var busSettings: BusSettingsOverrides
    /// How the supervisor restarts and stops role processes.
    public var supervisor: SupervisorPolicy
    /// The roles to launch, in file order.
    public var roles: [RoleConfig]
    /// How agents are reached, what they cost, and the run's cost limit (`agents:`).
    public var agents = AgentsConfig()

    public init(
        file: String? = nil, bus: String, repository: String, backlog: String? = nil,
        busSettings: BusSettingsOverrides = .init(), supervisor: SupervisorPolicy = .init(),
        roles: [RoleConfig] = RoleConfig.productDefaults
    ) {
        self.file = file
        self.bus = bus
        self.repository = repository
        self.backlog = backlog
        self.busSettings = busSettings
        self.supervisor = supervisor
        self.roles = roles
    }

    /// The configuration of `role`, if it is configured.
    public func role(_ name: String) -> RoleConfig? {
        roles.first { $0.name == name }
    }
}

/// Bus tunables set in `planbus.yaml`'s `bus_settings`; `nil` leaves the bus's value alone.
public struct BusSettingsOverrides: Sendable, Equatable {
    /// `durable`: fsync payloads and folders so that a crash loses no published envelope and
    /// publishes no result twice (PROTOCOL 7.11).
    public var durable: Bool?
    /// `max_attempts`: deliveries before an envelope is dead-lettered (1 to 1000).
    public var maxAttempts: Int?
    /// `heartbeat`: how often a worker rewrites its heartbeat (10ms to 10m).
    public var heartbeat: Duration?
    /// `lease`: how long a heartbeat may stand still before the worker's claims are taken over
    /// (50ms to 24h, longer than `heartbeat`).
    public var lease: Duration?
    /// `retry_base`: the first retry delay after a nack, doubled per attempt (0ms to 24h).
    public var retryBase: Duration?
    /// `retry_cap`: the longest retry delay (0ms to 24h).
    public var retryCap: Duration?
    /// `poll`: the poll period in poll mode (10ms to 10m).
    public var poll: Duration?
    /// `janitor`: how often a worker runs its janitor pass (10ms to 10m).
    public var janitor: Duration?
    /// `rescan`: the full rescan period in inotify mode (100ms to 24h).
    public var rescan: Duration?
    /// `wake`: how a worker learns that work arrived.
    public var wake: WakeMode?

    /// No overrides.
    public init() {}

    /// `settings` with these overrides applied.
    public func applied(to settings: BusSettings) -> BusSettings {
        var s = settings
        if let durable { s.durable = durable }
        if let maxAttempts { s.maxAttempts = maxAttempts }
        if let heartbeat { s.heartbeatMs = heartbeat.milliseconds }
        if let lease { s.leaseMs = lease.milliseconds }
        if let retryBase { s.retryBaseMs = retryBase.milliseconds }
        if let retryCap { s.retryCapMs = retryCap.milliseconds }
        if let poll { s.pollMs = poll.milliseconds }
        if let janitor { s.janitorMs = janitor.milliseconds }
        if let rescan { s.rescanMs = rescan.milliseconds }
        if let wake { s.wake = wake }
        return s
    }
}

/// How the supervisor restarts, judges and stops role processes.
public struct SupervisorPolicy: Sendable, Equatable {
    /// Delay before the first re-spawn of a crashed instance; doubled for each further crash.
    public var restartBackoff: Duration = .milliseconds(100)
    /// Longest delay between re-spawns.
    public var restartBackoffMax: Duration = .seconds(10)
    /// More than this many restarts of one role within ``restartPeriod`` marks the role failed.
    public var restartIntensity: Int = 5
    /// The window for ``restartIntensity``.
    public var restartPeriod: Duration = .seconds(60)
    /// An instance that has run this long has its backoff reset.
    public var stableAfter: Duration = .seconds(10)
    /// After SIGTERM (or a stop file), how long a role has before its process group is killed.
    public var stopGrace: Duration = .seconds(10)
    /// How long a new instance has to write its first heartbeat before it counts as hung.
    public var startTimeout: Duration = .seconds(15)

    public init() {}
}

/// One role in `planbus.yaml`.
public struct RoleConfig: Sendable, Equatable {
    /// The role name, which is also its queue (`q/<name>/`).
    public var name: String
    /// How many processes of this role the supervisor runs on this host (0 = none).
    public var instances: Int = 1
    /// Which agent the role drives (`none` = offline, deterministic).
    public var agent: String = "none"
    /// The model the agent uses, when it takes one.
    public var model: String?
    /// A program to run instead of the built-in `planbus role NAME` (a role written in another
    /// language, or a test fixture). `nil` runs the built-in role.
    public var command: [String]?
    /// Extra arguments appended to the role's command line.
    public var args: [String] = []
    /// Extra environment variables for the role process.
    public var env: [String: String] = [:]
    /// Per-role time limits.
    public var timeouts = RoleTimeouts()
    /// The agent used while the role's agent is rate-limited (`fallback:`).
    public var fallback: AgentChoice?
    /// The verifier's second reviewer (`reviewer:`).
    public var reviewer: AgentChoice?
    /// The most this role may spend on one run, in dollars (`max_cost_usd:`).
    public var maxCostUSD: Double?
    /// The most questions the planner asks before planning a free-text goal (`questions:`).
    public var questions: Int = 4

    public init(name: String, instances: Int = 1) {
        self.name = name
        self.instances = instances
    }

    /// The five product roles with their default instance counts.
    public static let productDefaults: [RoleConfig] = [
        RoleConfig(name: "planner"), RoleConfig(name: "builder", instances: 2), RoleConfig(name: "verifier"),
        RoleConfig(name: "judge"), RoleConfig(name: "docs"),
    ]
}

/// Per-role time limits.
public struct RoleTimeouts: Sendable, Equatable {
    /// Longest a handler may work on one envelope before it is cancelled and the envelope retried.
    public var envelope: Duration = .seconds(1_800)
    /// How long heartbeat progress may stall before the instance counts as hung (`nil` = the bus
    /// lease).
    public var hang: Duration?
    /// Grace after SIGTERM before SIGKILL for this role (`nil` = the supervisor's `stop_grace`).
    public var stopGrace: Duration?

    public init() {}
}

extension Duration {
    /// Whole milliseconds (rounded down).
    public var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1_000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
