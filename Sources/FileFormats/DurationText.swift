/// Durations as `planbus.yaml` and plan files write them: a whole number and a unit, such as
/// `250ms`, `5s`, `2m` or `1h`.
///
/// A bare number is not a duration: `5` could mean seconds or milliseconds, so it is an error that
/// asks for a unit. ``format(_:)`` writes a duration back in the shortest exact form.
public enum DurationText {
    /// The units, largest first, with their length in milliseconds.
    static let units: [(suffix: String, milliseconds: Int64)] = [
        ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// Reads a duration such as `250ms`, `5s`, `2m` or `1h`.
    ///
    /// - Parameter text: A non-negative whole number without sign, spaces or separators, followed
    ///   by one of `ms`, `s`, `m` and `h`.
    /// - Returns: The duration.
    /// - Throws: ``FileFormatError`` `invalidValue` whose message says what is wrong and what is
    ///   expected; it starts lower-case and names no place, so a caller can prefix it with one.
    public static func parse(_ text: String) throws(FileFormatError) -> Duration {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        if !digits.isEmpty && unit.isEmpty {
            throw FileFormatError(
                .invalidValue,
                "\(text) has no unit (write \(text)s for seconds or \(text)ms for milliseconds; units: ms, s, m, h)")
        }
        guard !digits.isEmpty, let (_, factor) = units.first(where: { $0.suffix == unit }) else {
            throw FileFormatError(
                .invalidValue,
                "must be a duration such as 250ms, 5s, 2m or 1h (a whole number and one of ms, s, m, h), got "
                    + QuotedText.quoted(text))
        }
        guard let count = Int64(digits) else {
            throw FileFormatError(.invalidValue, "\(QuotedText.quoted(text)) is too long a duration")
        }
        let (ms, overflow) = count.multipliedReportingOverflow(by: factor)
        guard !overflow, ms <= Int64.max / 1_000_000 else {
            throw FileFormatError(.invalidValue, "\(QuotedText.quoted(text)) is too long a duration")
        }
        return .milliseconds(ms)
    }

    /// Writes `duration` in the shortest exact form ``parse(_:)`` reads back: the largest unit that
    /// divides it evenly, so 90 seconds is `90s`, 120 seconds `2m` and zero `0s`. Parts of a
    /// millisecond are dropped.
    ///
    /// - Parameter duration: The duration to write.
    /// - Returns: Text such as `250ms`, `5s`, `2m` or `1h`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let ms = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        let sign = ms < 0 ? "-" : ""
        let magnitude = ms.magnitude
        for (suffix, factor) in units where magnitude % UInt64(factor) == 0 {
            return "\(sign)\(magnitude / UInt64(factor))\(suffix)"
        }
        return "\(sign)\(magnitude)ms"
    }

    /// Writes `range` as `from FROM to TO`, for messages.
    public static func format(_ range: ClosedRange<Duration>) -> String {
        "from \(format(range.lowerBound)) to \(format(range.upperBound))"
    }
}
