#if canImport(Glibc)
    import Glibc
#endif

/// A wall-clock instant in Unix milliseconds, written as RFC 3339 UTC (`2026-11-22T03:04:05.678Z`).
///
/// Wall-clock times on the bus are informational: nothing in the protocol compares them across
/// hosts. Liveness is judged on each observer's own monotonic clock.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    /// Creates a timestamp.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The current wall-clock time (`PLANBUS_CLOCK_OFFSET_MS` shifts it, to test clock skew).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000 + clockOffset)
    }

    private static let clockOffset: Int64 = {
        guard let raw = getenv("PLANBUS_CLOCK_OFFSET_MS") else { return 0 }
        return Int64(String(cString: raw)) ?? 0
    }()

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    /// RFC 3339 in UTC with milliseconds.
    public var description: String {
        var t = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let ms = Int((milliseconds % 1000 + 1000) % 1000)
        return "\(pad(Int(tmv.tm_year) + 1900, 4))-\(pad(Int(tmv.tm_mon) + 1, 2))-\(pad(Int(tmv.tm_mday), 2))T"
            + "\(pad(Int(tmv.tm_hour), 2)):\(pad(Int(tmv.tm_min), 2)):\(pad(Int(tmv.tm_sec), 2)).\(pad(ms, 3))Z"
    }

    /// The UTC day, `YYYYMMDD`, used to partition `done/`.
    public var day: String {
        var t = time_t(milliseconds / 1000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return "\(pad(Int(tmv.tm_year) + 1900, 4))\(pad(Int(tmv.tm_mon) + 1, 2))\(pad(Int(tmv.tm_mday), 2))"
    }

    /// Parses RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
    public init?(rfc3339 text: String) {
        let u = Array(text.utf8)
        guard u.count >= 20, u.count <= 40, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54 || u[10] == 0x74,
            u[13] == 0x3A, u[16] == 0x3A, u.last == 0x5A || u.last == 0x7A
        else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard u[i] >= 0x30, u[i] <= 0x39 else { return nil }
                v = v * 10 + Int(u[i] - 0x30)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
            let mi = num(14..<16), let s = num(17..<19), (1...12).contains(mo), (1...31).contains(d), h < 24,
            mi < 60, s < 61
        else { return nil }
        var ms = 0
        if u.count > 20 {
            guard u[19] == 0x2E, u.count > 21 else { return nil }
            var scale = 100
            for i in 20..<(u.count - 1) {
                guard u[i] >= 0x30, u[i] <= 0x39 else { return nil }
                ms += Int(u[i] - 0x30) * scale
                scale /= 10
            }
        } else if u.count != 20 {
            return nil
        }
        var tmv = tm()
        tmv.tm_year = Int32(y - 1900)
        tmv.tm_mon = Int32(mo - 1)
        tmv.tm_mday = Int32(d)
        tmv.tm_hour = Int32(h)
        tmv.tm_min = Int32(mi)
        // A leap second (:60) is checked as :59 and added back, so 23:59:60 is not "tomorrow".
        tmv.tm_sec = Int32(min(s, 59))
        var secs = timegm(&tmv)
        // timegm rolls impossible dates over (Feb 30 → Mar 2): refuse them instead.
        var check = tm()
        gmtime_r(&secs, &check)
        guard check.tm_mday == Int32(d), check.tm_mon == Int32(mo - 1) else { return nil }
        if s == 60 { secs += 1 }
        self.milliseconds = Int64(secs) * 1000 + Int64(ms)
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
