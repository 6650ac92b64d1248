import Bus

/// The smallest, median and largest of a few samples.
public struct SessionSpread: Sendable {
    /// The samples, sorted.
    public let sorted: [Double]
    /// What the samples are multiplied by in the JSON (1000: seconds to milliseconds).
    let scale: Double
    /// Decimals in the JSON.
    let digits: Int

    init(_ samples: [Double], scale: Double = 1000, digits: Int = 1) {
        sorted = samples.sorted()
        self.scale = scale
        self.digits = digits
    }

    /// The smallest sample (0 without samples).
    public var min: Double { sorted.first ?? 0 }
    /// The largest sample (0 without samples).
    public var max: Double { sorted.last ?? 0 }
    /// The median: the middle sample, or the mean of the two middle ones (0 without samples).
    public var median: Double {
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// `{n, min, median, max}`, scaled; `null` figures without samples.
    var json: JSONValue {
        guard !sorted.isEmpty else { return ["n": 0, "min": nil, "median": nil, "max": nil] }
        return [
            "n": .number(Double(sorted.count)), "min": rounded(min * scale, digits),
            "median": rounded(median * scale, digits), "max": rounded(max * scale, digits),
        ]
    }
}
