import Bus

/// What a run's agent calls have cost, from the `usage` records of the envelopes the planner
/// folds (each record's `role` and `cost_usd`; a record without a cost adds nothing).
public struct RunCost: Sendable, Equatable {
    /// Dollars by role.
    public private(set) var byRole: [String: Double] = [:]
    /// How many usage records were folded, with a cost or not.
    public private(set) var records = 0

    public init() {}

    /// Dollars over every role.
    public var total: Double { byRole.values.reduce(0, +) }

    /// Adds the records of an envelope's `usage` array (anything else is ignored).
    public mutating func add(_ usage: JSONValue?) {
        for record in usage?.arrayValue ?? [] {
            guard record.objectValue != nil else { continue }
            records += 1
            guard let cost = AgentReply.double(record["cost_usd"]), cost > 0 else { continue }
            byRole[record["role"]?.stringValue ?? "unknown", default: 0] += cost
        }
    }

    /// Adds another cost (the calls made before a run's plan existed).
    public mutating func add(_ other: RunCost) {
        for (role, cost) in other.byRole { byRole[role, default: 0] += cost }
        records += other.records
    }

    /// Why the run must stop, when it costs more than `limits` allow: the run's total over
    /// `max_cost_usd` first, then the first role (by name) over its own limit.
    public func exceeded(_ limits: CostLimits) -> String? {
        let roles = byRole.keys.sorted().map { "\($0) \(Self.dollars(byRole[$0] ?? 0))" }.joined(separator: ", ")
        if let max = limits.run, total > max {
            return "run cost \(Self.dollars(total)) exceeds max_cost_usd \(Self.dollars(max)) (\(roles))"
        }
        for role in limits.roles.keys.sorted() {
            guard let max = limits.roles[role], let spent = byRole[role], spent > max else { continue }
            return "\(role) cost \(Self.dollars(spent)) exceeds the role's max_cost_usd \(Self.dollars(max)) (\(roles))"
        }
        return nil
    }

    /// `$12.40`.
    public static func dollars(_ value: Double) -> String {
        let cents = Int((value * 100).rounded())
        let rest = cents % 100
        return "$\(cents / 100).\(rest < 10 ? "0" : "")\(rest)"
    }

    /// `cost_usd` and `cost_usd_by_role` for `status.json`, rounded to a hundredth of a cent.
    var json: [String: JSONValue] {
        func round(_ v: Double) -> JSONValue { .number((v * 10_000).rounded() / 10_000) }
        return ["cost_usd": round(total), "cost_usd_by_role": .object(byRole.mapValues(round))]
    }
}

/// The cost limits of a run, from the planner's agent settings: `max_cost_usd` of the `agents:`
/// section for the whole run, and each role's own `max_cost_usd`.
public struct CostLimits: Sendable, Equatable {
    public var run: Double?
    public var roles: [String: Double]

    public init(run: Double? = nil, roles: [String: Double] = [:]) {
        self.run = run
        self.roles = roles
    }

    /// The limits of `settings`.
    public init(_ settings: AgentSettings) {
        self.init(run: settings.maxRunCostUSD, roles: settings.maxRoleCostUSD)
    }
}
