import Bus

/// Dollars per million tokens, per model: turns the tokens of an agent that reports no cost into
/// an estimated cost (`cost_source: estimated`).
///
/// The built-in table holds list prices of common models; `agents.prices` in `planbus.yaml`
/// adds models and overrides these. A model is found by its exact name, else by the longest
/// entry its name starts with (`claude-sonnet-4-20250514` uses `claude-sonnet-4`).
public struct PriceTable: Sendable, Equatable {
    /// The price of one model, in dollars per million tokens.
    public struct Price: Sendable, Equatable {
        public var input: Double
        public var output: Double
        /// Cached input read; `nil` is the input price.
        public var cacheRead: Double?
        /// Cache writes; `nil` is the input price.
        public var cacheWrite: Double?

        public init(input: Double, output: Double, cacheRead: Double? = nil, cacheWrite: Double? = nil) {
            self.input = input
            self.output = output
            self.cacheRead = cacheRead
            self.cacheWrite = cacheWrite
        }

        public var json: JSONValue {
            var o: [String: JSONValue] = ["input": .number(input), "output": .number(output)]
            if let cacheRead { o["cache_read"] = .number(cacheRead) }
            if let cacheWrite { o["cache_write"] = .number(cacheWrite) }
            return .object(o)
        }
    }

    /// Prices by model name.
    public var prices: [String: Price]

    public init(_ prices: [String: Price] = [:]) {
        self.prices = prices
    }

    /// List prices of common models, overridable in the configuration.
    public static let builtIn = PriceTable([
        "claude-opus-4": Price(input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75),
        "claude-sonnet-4": Price(input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75),
        "claude-3-5-haiku": Price(input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1),
        "gpt-4o": Price(input: 2.5, output: 10, cacheRead: 1.25),
        "gpt-4o-mini": Price(input: 0.15, output: 0.6, cacheRead: 0.075),
        "gpt-4.1": Price(input: 2, output: 8, cacheRead: 0.5),
        "gpt-5": Price(input: 1.25, output: 10, cacheRead: 0.125),
        "o3": Price(input: 2, output: 8, cacheRead: 0.5),
        "gemini-2.5-pro": Price(input: 1.25, output: 10, cacheRead: 0.31),
        "gemini-2.5-flash": Price(input: 0.3, output: 2.5, cacheRead: 0.075),
    ])

    /// This table with `other`'s entries added or replacing.
    public func merging(_ other: PriceTable) -> PriceTable {
        PriceTable(prices.merging(other.prices) { _, new in new })
    }

    /// The price of `model`: exact name first, else the longest entry it starts with.
    public func price(of model: String) -> Price? {
        if let exact = prices[model] { return exact }
        return prices.filter { model.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }?.value
    }

    /// `usage` with an estimated cost when it has none and `model`'s price and the tokens are
    /// known; otherwise unchanged (a reported cost is never replaced).
    public func estimate(_ usage: AgentUsage, model: String?) -> AgentUsage {
        guard usage.costUSD == nil, let model, let price = price(of: model),
            usage.inputTokens != nil || usage.outputTokens != nil
        else { return usage }
        var cost = Double(usage.inputTokens ?? 0) * price.input + Double(usage.outputTokens ?? 0) * price.output
        cost += Double(usage.cacheReadTokens ?? 0) * (price.cacheRead ?? price.input)
        cost += Double(usage.cacheWriteTokens ?? 0) * (price.cacheWrite ?? price.input)
        var estimated = usage
        estimated.costUSD = cost / 1_000_000
        estimated.costSource = .estimated
        return estimated
    }

    /// `{model: {input, output, cache_read?, cache_write?}}`.
    public var json: JSONValue { .object(prices.mapValues(\.json)) }

    /// Reads ``json``.
    public init(json: JSONValue) {
        var prices: [String: Price] = [:]
        for (model, value) in json.objectValue ?? [:] {
            guard let input = AgentReply.double(value["input"]), let output = AgentReply.double(value["output"]) else {
                continue
            }
            prices[model] = Price(
                input: input, output: output, cacheRead: AgentReply.double(value["cache_read"]),
                cacheWrite: AgentReply.double(value["cache_write"]))
        }
        self.init(prices)
    }
}
