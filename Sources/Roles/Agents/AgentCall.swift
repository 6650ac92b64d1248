import Bus

/// What one call through an ``AgentCaller`` came to: the (redacted) result, the agent that ran,
/// and, when every agent the role may use is rate-limited, until when.
public struct AgentCall: Sendable {
    /// The result; its text and JSON have had credentials redacted.
    public var result: AgentResult
    /// The agent that ran, or `nil` when none could (all limited).
    public var profile: AgentProfile?
    /// The role that made the call.
    public var role: String
    /// Set when no agent could run because every one is limited: the earliest reset.
    public var limitedUntil: Timestamp?
    /// The agents that were limited (`claude: … until …`), for logs and the envelope.
    public var limits: [String]

    public init(
        result: AgentResult, profile: AgentProfile?, role: String, limitedUntil: Timestamp? = nil,
        limits: [String] = []
    ) {
        self.result = result
        self.profile = profile
        self.role = role
        self.limitedUntil = limitedUntil
        self.limits = limits
    }

    /// The usage record envelopes carry in their `usage` array: `role`, `agent`, `model`,
    /// `session`, `outcome`, and the tokens and cost of ``AgentUsage/json`` (`input`, `output`,
    /// `cache_read`, `cache_write`, `reasoning`, `cost_usd`, `cost_source`).
    public var usageRecord: JSONValue {
        var o = result.usage.json.objectValue ?? [:]
        o["role"] = .string(role)
        o["agent"] = profile.map { .string($0.agent) } ?? .null
        o["model"] = profile?.model.map(JSONValue.string) ?? .null
        o["session"] = result.session.map(JSONValue.string) ?? .null
        o["outcome"] = .string(result.outcome.name)
        return .object(o)
    }
}

extension AgentResult.Outcome {
    /// `ok`, `error`, `rate_limited`, `auth`, `timeout` or `invalid_output`.
    public var name: String {
        switch self {
        case .ok: return "ok"
        case .error: return "error"
        case .rateLimited: return "rate_limited"
        case .auth: return "auth"
        case .timeout: return "timeout"
        case .invalidOutput: return "invalid_output"
        }
    }

    /// A sentence for logs and feedback: `rate_limited until …: message`.
    public var text: String {
        switch self {
        case .ok: return "ok"
        case .error(let m): return "error: \(m)"
        case .rateLimited(let until, let m): return "rate_limited\(until.map { " until \($0)" } ?? ""): \(m)"
        case .auth(let m): return "auth: \(m)"
        case .timeout: return "timeout"
        case .invalidOutput(let m): return "invalid_output: \(m)"
        }
    }
}
