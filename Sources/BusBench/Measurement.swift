import Bus

#if canImport(Glibc)
    import Glibc
#endif

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// The duration in microseconds.
    var microseconds: Double { seconds * 1e6 }
}

/// A number of operations done in an elapsed time.
public struct Rate: Sendable, Equatable {
    /// How many operations (envelopes, files) were done.
    public var count: Int
    /// Wall-clock seconds they took.
    public var seconds: Double

    /// Creates a rate.
    public init(count: Int, seconds: Double) {
        self.count = count
        self.seconds = seconds
    }

    /// Operations per second.
    public var perSecond: Double { seconds > 0 ? Double(count) / seconds : 0 }

    /// Microseconds per operation.
    public var microsecondsPerOperation: Double { count > 0 ? seconds * 1e6 / Double(count) : 0 }

    /// `{count, seconds, per_second, us_per_op}`.
    public var json: JSONValue {
        [
            "count": .number(Double(count)), "seconds": rounded(seconds, 3), "per_second": rounded(perSecond, 0),
            "us_per_op": rounded(microsecondsPerOperation, 1),
        ]
    }
}

/// Order statistics of a set of latency samples.
public struct LatencySummary: Sendable, Equatable {
    /// The samples, in microseconds, sorted.
    public let sortedMicroseconds: [Double]

    /// Summarises `samples`.
    public init(_ samples: [Duration]) {
        sortedMicroseconds = samples.map(\.microseconds).sorted()
    }

    /// The nearest-rank percentile `p` (0...100), in microseconds; 0 without samples.
    public func percentile(_ p: Double) -> Double {
        guard !sortedMicroseconds.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sortedMicroseconds.count)).rounded(.up))
        return sortedMicroseconds[Swift.min(Swift.max(rank, 1), sortedMicroseconds.count) - 1]
    }

    /// The median, in microseconds.
    public var p50: Double { percentile(50) }
    /// The 99th percentile, in microseconds.
    public var p99: Double { percentile(99) }
    /// The largest sample, in microseconds.
    public var max: Double { sortedMicroseconds.last ?? 0 }
    /// The smallest sample, in microseconds.
    public var min: Double { sortedMicroseconds.first ?? 0 }
    /// The mean, in microseconds.
    public var mean: Double {
        sortedMicroseconds.isEmpty ? 0 : sortedMicroseconds.reduce(0, +) / Double(sortedMicroseconds.count)
    }

    /// `{samples, p50_us, p99_us, max_us, mean_us}`.
    public var json: JSONValue {
        [
            "samples": .number(Double(sortedMicroseconds.count)), "p50_us": rounded(p50, 1),
            "p99_us": rounded(p99, 1), "max_us": rounded(max, 1), "mean_us": rounded(mean, 1),
        ]
    }
}

/// A JSON number rounded to `digits` decimals.
func rounded(_ value: Double, _ digits: Int) -> JSONValue {
    guard value.isFinite else { return .null }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    return .number((value * scale).rounded() / scale)
}

/// CPU time from `getrusage(2)`.
enum CPUTime {
    /// User + system seconds of this process (every thread).
    static func ofSelf() -> Double { seconds(RUSAGE_SELF) }

    /// User + system seconds of every child this process has reaped.
    static func ofReapedChildren() -> Double { seconds(RUSAGE_CHILDREN) }

    private static func seconds(_ who: __rusage_who) -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(who.rawValue), &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }
}
