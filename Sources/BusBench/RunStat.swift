import Bus

/// Count, total, mean and order statistics of a set of durations, in seconds.
public struct RunStat: Sendable, Equatable {
    /// The samples, in seconds, sorted.
    public let sorted: [Double]

    /// Summarises `samples` (seconds).
    public init(_ samples: [Double]) {
        sorted = samples.sorted()
    }

    /// How many samples.
    public var count: Int { sorted.count }
    /// Their sum (0 without samples).
    public var total: Double { sorted.reduce(0, +) }
    /// Their mean (0 without samples).
    public var mean: Double { sorted.isEmpty ? 0 : total / Double(sorted.count) }
    /// The order statistics, as the session benchmark computes them.
    private var spread: SessionSpread { SessionSpread(sorted) }
    /// The smallest (0 without samples).
    public var min: Double { spread.min }
    /// The largest (0 without samples).
    public var max: Double { spread.max }
    /// The median: the middle sample, or the mean of the two middle ones (0 without samples).
    public var median: Double { spread.median }

    /// `{n, total_ms, mean_ms, min_ms, median_ms, max_ms}`; `null` figures without samples.
    public var json: JSONValue {
        guard !sorted.isEmpty else {
            return ["n": 0, "total_ms": 0, "mean_ms": nil, "min_ms": nil, "median_ms": nil, "max_ms": nil]
        }
        return [
            "n": .number(Double(count)), "total_ms": rounded(total * 1000, 1), "mean_ms": rounded(mean * 1000, 1),
            "min_ms": rounded(min * 1000, 1), "median_ms": rounded(median * 1000, 1),
            "max_ms": rounded(max * 1000, 1),
        ]
    }

    /// `mean (min–max) ms`, or `none`.
    public var text: String {
        guard !sorted.isEmpty else { return "none" }
        return "\(format(mean * 1000)) ms (\(format(min * 1000))–\(format(max * 1000)))"
    }
}
