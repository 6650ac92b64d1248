import Bus

/// One mode (memory-only or durable) of the comparison of the bus with Redis Streams.
public struct BrokerModeResult: Sendable {
    /// Whether the bus was durable (and Redis ran with `appendfsync always`).
    public var durable: Bool
    /// Redis's persistence in this mode, as passed to the server.
    public var redisPersistence: String
    /// publish → consumer wakes → read → ack, one message at a time, on the bus.
    public var busLatency: LatencySummary
    /// The same with Redis Streams: `XADD` → `XREADGROUP` returns → `XACK` answered.
    public var redisLatency: LatencySummary
    /// Memory mode only: the bus's latency with its folder on a memory filesystem (tmpfs), where,
    /// as with Redis in memory, nothing goes to a disk; `nil` in durable mode or without a tmpfs.
    public var busOnMemoryLatency: LatencySummary? = nil
    /// The memory filesystem of ``busOnMemoryLatency``, when it was measured.
    public var memoryFolder: String? { busOnMemoryLatency == nil ? nil : BenchDirectory.memoryParent }
    /// The bus's end-to-end throughput, from the bus benchmark's 1-consumer case of this mode.
    public var busThroughput: Rate? = nil
    /// Redis's, for the same number of messages: pipelined `XADD`s, `XREADGROUP COUNT` batches,
    /// one `XACK` per batch.
    public var redisThroughput: Rate? = nil

    /// bus p50 / Redis p50: below 2 meets the latency goal.
    public var latencyRatioP50: Double { ratio(busLatency.p50, redisLatency.p50) }
    /// bus on the memory filesystem p50 / Redis p50.
    public var memoryLatencyRatioP50: Double? { busOnMemoryLatency.map { ratio($0.p50, redisLatency.p50) } }
    /// bus p99 / Redis p99.
    public var latencyRatioP99: Double { ratio(busLatency.p99, redisLatency.p99) }
    /// Redis throughput / bus throughput: how many times more messages a second Redis moved.
    public var throughputRatio: Double? {
        guard let bus = busThroughput, let redis = redisThroughput else { return nil }
        return ratio(redis.perSecond, bus.perSecond)
    }

    private func ratio(_ a: Double, _ b: Double) -> Double { b > 0 ? a / b : 0 }

    /// The result as JSON.
    public var json: JSONValue {
        [
            "durable": .bool(durable), "redis_persistence": .string(redisPersistence),
            "bus_latency": busLatency.json, "redis_latency": redisLatency.json,
            "latency_ratio_p50": rounded(latencyRatioP50, 2), "latency_ratio_p99": rounded(latencyRatioP99, 2),
            "bus_throughput": busThroughput?.json ?? .null, "redis_throughput": redisThroughput?.json ?? .null,
            "redis_over_bus_throughput": throughputRatio.map { rounded($0, 2) } ?? .null,
            "latency_goal_bus_p50_within_2x": .bool(latencyRatioP50 <= BrokerComparison.latencyGoal),
            "bus_on_memory_latency": busOnMemoryLatency?.json ?? .null,
            "bus_on_memory_folder": memoryFolder.map(JSONValue.string) ?? .null,
            "bus_on_memory_latency_ratio_p50": memoryLatencyRatioP50.map { rounded($0, 2) } ?? .null,
        ]
    }
}

/// The bus against a real broker on the same workload: Redis Streams with a consumer group.
public struct BrokerComparison: Sendable {
    /// The goal: the bus's median latency at most this many times Redis's.
    public static let latencyGoal = 2.0
    /// `redis-server --version`, when it ran.
    public var redisVersion: String?
    /// Why Redis was not measured (not installed), when it was not.
    public var skipped: String?
    /// Memory-only, then durable.
    public var modes: [BrokerModeResult] = []

    /// The comparison as JSON.
    public var json: JSONValue {
        [
            "broker": "redis streams (XADD / XREADGROUP / XACK), private redis-server on loopback",
            "redis_version": redisVersion.map(JSONValue.string) ?? .null,
            "skipped": skipped.map(JSONValue.string) ?? .null,
            "latency_goal_ratio": .number(Self.latencyGoal),
            "modes": .array(modes.map(\.json)),
        ]
    }
}
