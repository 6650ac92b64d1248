import Bus
import Foundation

/// A usage or rate limit an agent announced in its own words, with the time it resets when the
/// words give one.
///
/// Recognised, in any line of standard output or standard error (case-insensitive):
/// - `Claude AI usage limit reached|1763812800`: the reset is the epoch after the bar (seconds,
///   or milliseconds when it is that large);
/// - `You've hit your limit · resets 1pm (Europe/Lisbon)`, `5-hour limit reached ∙ resets 3pm`:
///   the next such time in the zone named in parentheses, or in `timeZone` when none is named;
/// - `You've hit your usage limit. … try again at 3:05 PM`, `… try again at Sep 19th, 2026
///   7:10 AM`: the next such time, or that date, in `timeZone`;
/// - `API Error: Rate limit reached`, `The API provider has rate limited you.`, `You have
///   exhausted your daily quota on this model.`, `Quota exceeded`, `RESOURCE_EXHAUSTED`,
///   `Too many requests`: a limit with no reset time, unless the line says `retry in 23.5s` or
///   `retry after 30 seconds`.
///
/// Adapters look for these words only in a call that failed: an agent that did its work may well
/// write about rate limits.
public struct UsageLimitText: Sendable, Equatable {
    /// The line that announced the limit, trimmed.
    public var message: String
    /// When the limit resets, when the text said.
    public var resetsAt: Timestamp?

    /// Creates a recognised limit.
    public init(message: String, resetsAt: Timestamp?) {
        self.message = message
        self.resetsAt = resetsAt
    }

    /// The first usage or rate limit announced in `text`, if any.
    /// - Parameters:
    ///   - now: the time a reset without a date is the next occurrence after.
    ///   - timeZone: the zone of a reset time that names none (the local one).
    public static func recognize(_ text: String, now: Date = Timestamp.nowDate, timeZone: TimeZone = .current)
        -> UsageLimitText?
    {
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            let lower = line.lowercased()
            guard phrases.contains(where: { lower.contains($0) }) else { continue }
            let message = String(line.prefix(400))
            if let epoch = epochAfterBar(line) { return UsageLimitText(message: message, resetsAt: epoch) }
            let reset = ResetTimeText.resetTime(in: line, now: now, timeZone: timeZone)
            return UsageLimitText(message: message, resetsAt: reset.map { Timestamp(date: $0) })
        }
        return nil
    }

    /// Words that mean a usage, rate or quota limit, lower-cased.
    static let phrases = [
        "usage limit", "hit your limit", "hour limit reached", "weekly limit reached", "daily limit reached",
        "opus limit reached", "sonnet limit reached", "session limit reached", "rate limit reached", "rate limited",
        "rate limit exceeded", "exhausted your", "quota exceeded", "exceeded your current quota",
        "resource_exhausted", "resource exhausted", "too many requests",
    ]

    /// The epoch of `… limit reached|1763812800`.
    private static func epochAfterBar(_ line: String) -> Timestamp? {
        guard let bar = line.lastIndex(of: "|") else { return nil }
        let digits = line[line.index(after: bar)...].prefix { $0.isASCII && $0.isNumber }
        guard digits.count >= 9, let value = Int64(digits) else { return nil }
        return Timestamp(milliseconds: value >= 100_000_000_000 ? value : value * 1000)
    }
}

extension Timestamp {
    /// The timestamp of a Foundation date.
    init(date: Date) { self.init(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded())) }

    /// The current wall-clock time as a Foundation date, read through ``Timestamp/now()`` so
    /// `PLANBUS_CLOCK_OFFSET_MS` shifts it as it shifts every other wall-clock reading.
    public static var nowDate: Date { Date(timeIntervalSince1970: Double(Timestamp.now().milliseconds) / 1000) }
}
