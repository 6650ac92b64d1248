import Bus
import Foundation

/// What agents cost in runs: every usage record the run's envelopes carry (`usage` arrays in
/// their bodies), found through the runs' journals, summed by role, model, task or run.
///
/// A group's cost is the sum of the costs known; ``Group/sources`` says where they came from,
/// and ``Group/unknownCalls`` how many calls had no cost at all (their cost is not in the sum,
/// so the sum is then a lower bound).
public struct RunUsage: Sendable {
    /// One agent call, as an envelope recorded it.
    public struct Call: Sendable, Equatable {
        public var run: String
        public var task: String?
        /// The envelope that carried the record.
        public var envelope: String
        public var role: String
        public var agent: String
        public var model: String?
        public var outcome: String
        public var usage: AgentUsage
    }

    /// Calls summed under one key.
    public struct Group: Sendable, Equatable {
        public var key: String
        public var calls = 0
        public var input = 0
        public var output = 0
        public var cacheRead = 0
        public var cacheWrite = 0
        public var reasoning = 0
        public var costUSD = 0.0
        /// The cost sources seen, among `reported` and `estimated`.
        public var sources: Set<String> = []
        /// Calls whose cost nobody knows.
        public var unknownCalls = 0
        /// The token counts some call of the group reported (`input`, `output`, `cache_read`,
        /// `cache_write`, `reasoning`); the others are unknown, not zero.
        public var known: Set<String> = []

        /// `reported`, `estimated`, `reported+estimated`, with `+unknown` when some calls had no
        /// cost; `unknown` when none had one.
        public var costSource: String {
            var parts = ["reported", "estimated"].filter(sources.contains)
            if unknownCalls > 0 { parts.append("unknown") }
            return parts.isEmpty ? "unknown" : parts.joined(separator: "+")
        }

        mutating func add(_ call: Call) {
            calls += 1
            let counts: [(String, Int?)] = [
                ("input", call.usage.inputTokens), ("output", call.usage.outputTokens),
                ("cache_read", call.usage.cacheReadTokens), ("cache_write", call.usage.cacheWriteTokens),
                ("reasoning", call.usage.reasoningTokens),
            ]
            for (name, value) in counts where value != nil { known.insert(name) }
            input += call.usage.inputTokens ?? 0
            output += call.usage.outputTokens ?? 0
            cacheRead += call.usage.cacheReadTokens ?? 0
            cacheWrite += call.usage.cacheWriteTokens ?? 0
            reasoning += call.usage.reasoningTokens ?? 0
            if let cost = call.usage.costUSD, call.usage.costSource != .unknown {
                costUSD += cost
                sources.insert(call.usage.costSource.rawValue)
            } else {
                unknownCalls += 1
            }
        }

        /// The JSON form; a token count no call reported is `null`.
        public var json: JSONValue {
            func n(_ value: Int, _ name: String) -> JSONValue { known.contains(name) ? .number(Double(value)) : .null }
            return [
                "key": .string(key), "calls": .number(Double(calls)), "input": n(input, "input"),
                "output": n(output, "output"), "cache_read": n(cacheRead, "cache_read"),
                "cache_write": n(cacheWrite, "cache_write"), "reasoning": n(reasoning, "reasoning"),
                "cost_usd": .number(costUSD), "cost_source": .string(costSource),
                "unknown_cost_calls": .number(Double(unknownCalls)),
            ]
        }
    }

    /// What to group by.
    public enum Grouping: String, Sendable, CaseIterable {
        case role, model, task, run, agent
    }

    /// Every call found, in envelope order.
    public var calls: [Call]

    public init(calls: [Call]) {
        self.calls = calls
    }

    /// Reads the calls of `runs` (every run on the bus when empty).
    public init(bus: Bus, runs: [String] = []) {
        let reader = JournalReader(layout: bus.layout)
        let locator = EnvelopeLocator(bus: bus)
        var calls: [Call] = []
        for run in runs.isEmpty ? reader.runs().sorted() : runs {
            var seen: Set<String> = []
            for event in reader.events(run: run) where event.event == .publish && seen.insert(event.id).inserted {
                guard let envelope = (try? locator.find(event.id))?.compactMap(\.envelope).first,
                    let records = envelope.body["usage"]?.arrayValue
                else { continue }
                calls += records.compactMap { Self.call(from: $0, envelope: envelope) }
            }
        }
        self.calls = calls
    }

    /// One record of an envelope's `usage` array.
    static func call(from record: JSONValue, envelope: Envelope) -> Call? {
        guard record.objectValue != nil else { return nil }
        let role = record["role"]?.stringValue ?? envelope.from.role
        func int(_ key: String) -> Int? { record[key]?.intValue }
        let source = record["cost_source"]?.stringValue.flatMap(AgentUsage.CostSource.init(rawValue:)) ?? .unknown
        let usage = AgentUsage(
            inputTokens: int("input"), outputTokens: int("output"), cacheReadTokens: int("cache_read"),
            cacheWriteTokens: int("cache_write"), reasoningTokens: int("reasoning"),
            costUSD: AgentReply.double(record["cost_usd"]), costSource: source)
        return Call(
            run: envelope.run, task: envelope.task, envelope: envelope.id, role: role,
            agent: record["agent"]?.stringValue ?? "unknown", model: record["model"]?.stringValue,
            outcome: record["outcome"]?.stringValue ?? "unknown", usage: usage)
    }

    /// The calls summed by `grouping`, largest cost first (then by key).
    public func groups(by grouping: Grouping) -> [Group] {
        var groups: [String: Group] = [:]
        for call in calls {
            let key: String
            switch grouping {
            case .role: key = call.role
            case .model: key = call.model.map { "\(call.agent)/\($0)" } ?? call.agent
            case .task: key = call.task.map { "\(call.run)/\($0)" } ?? "\(call.run) (run)"
            case .run: key = call.run
            case .agent: key = call.agent
            }
            groups[key, default: Group(key: key)].add(call)
        }
        return groups.values.sorted { ($0.costUSD, $1.key) > ($1.costUSD, $0.key) }
    }

    /// Every call summed.
    public var total: Group {
        var total = Group(key: "total")
        for call in calls { total.add(call) }
        return total
    }
}
