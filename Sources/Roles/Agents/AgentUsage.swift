import Bus

/// Tokens and cost of an agent call, normalised across vendors. Every field is optional: many
/// agents and servers report only some of them.
public struct AgentUsage: Sendable, Equatable {
    /// Where ``costUSD`` came from.
    public enum CostSource: String, Sendable, Equatable {
        /// The agent reported it.
        case reported
        /// Computed from tokens and a price table.
        case estimated
        /// Nobody reported it, and it could not be computed.
        case unknown
    }

    public var inputTokens: Int?
    public var outputTokens: Int?
    public var cacheReadTokens: Int?
    public var cacheWriteTokens: Int?
    public var reasoningTokens: Int?
    public var costUSD: Double?
    public var costSource: CostSource

    public init(
        inputTokens: Int? = nil, outputTokens: Int? = nil, cacheReadTokens: Int? = nil, cacheWriteTokens: Int? = nil,
        reasoningTokens: Int? = nil, costUSD: Double? = nil, costSource: CostSource = .unknown
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.reasoningTokens = reasoningTokens
        self.costUSD = costUSD
        self.costSource = costSource
    }

    /// The JSON form carried in envelopes: `input`, `output`, `cache_read`, `cache_write`,
    /// `reasoning` (each a number or null), `cost_usd` and `cost_source`.
    public var json: JSONValue {
        func n(_ v: Int?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        return [
            "input": n(inputTokens), "output": n(outputTokens), "cache_read": n(cacheReadTokens),
            "cache_write": n(cacheWriteTokens), "reasoning": n(reasoningTokens),
            "cost_usd": costUSD.map(JSONValue.number) ?? .null, "cost_source": .string(costSource.rawValue),
        ]
    }
}
