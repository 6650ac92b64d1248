import Bus
import Foundation

/// When an HTTP API call is tried again, and how long to wait first: the rules of the official
/// OpenAI and Anthropic SDKs.
///
/// - A response's `x-should-retry: true|false` header decides first.
/// - Otherwise 408, 409, 429 and every status ≥ 500 are retried; an OpenAI 429 whose error is
///   `insufficient_quota` never is (no wait will help).
/// - The wait is `retry-after-ms`, else `retry-after` (seconds, or an HTTP date), when that is
///   between 0 and ``maxRetryAfter`` (60 s for Anthropic, 120 s for OpenAI); otherwise
///   0.5 s · 2ⁿ (n = retries so far) capped at 8 s, less up to 25 % jitter.
/// - At most ``maxRetries`` retries (2 by default); connection failures count the same.
public struct HTTPRetryPolicy: Sendable, Equatable {
    /// How many times a call is tried again after the first attempt.
    public var maxRetries: Int
    /// The longest server-asked wait that is honoured; a longer one falls back to backoff.
    public var maxRetryAfter: Duration

    /// Creates a policy.
    public init(maxRetries: Int = 2, maxRetryAfter: Duration) {
        self.maxRetries = maxRetries
        self.maxRetryAfter = maxRetryAfter
    }

    /// The OpenAI SDK's rules: 2 retries, `retry-after` honoured up to 120 s.
    public static let openAI = HTTPRetryPolicy(maxRetryAfter: .seconds(120))
    /// The Anthropic SDK's rules: 2 retries, `retry-after` honoured up to 60 s.
    public static let anthropic = HTTPRetryPolicy(maxRetryAfter: .seconds(60))

    /// Whether a response with `status`, lower-cased `headers` and `errorCode` (the body's
    /// `error.code` or `error.type`, when any) is worth trying again, before counting retries.
    public func isRetryable(status: Int, headers: [String: String], errorCode: String?) -> Bool {
        if status == 429, errorCode == "insufficient_quota" { return false }
        switch headers["x-should-retry"]?.lowercased() {
        case "true": return true
        case "false": return false
        default: break
        }
        return status == 408 || status == 409 || status == 429 || status >= 500
    }

    /// How long to wait before retry number `retriesSoFar + 1`.
    /// - Parameters:
    ///   - headers: the failed response's lower-cased headers (empty after a connection failure).
    ///   - jitter: a number in 0...1; the backoff is reduced by `jitter` · 25 %.
    ///   - now: the current time, to read an HTTP-date `retry-after`.
    public func delay(
        retriesSoFar: Int, headers: [String: String], jitter: Double = Double.random(in: 0...1),
        now: Date = Timestamp.nowDate
    ) -> Duration {
        if let asked = Self.retryAfter(headers: headers, now: now), asked >= .zero, asked <= maxRetryAfter {
            return asked
        }
        let base = min(0.5 * pow(2, Double(max(0, retriesSoFar))), 8)
        let factor = 1 - 0.25 * min(max(jitter, 0), 1)
        return .milliseconds(Int64((base * factor * 1000).rounded()))
    }

    /// The wait a server asked for: `retry-after-ms`, else `retry-after` as seconds or an HTTP date.
    public static func retryAfter(headers: [String: String], now: Date = Timestamp.nowDate) -> Duration? {
        if let ms = headers["retry-after-ms"].flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
            return .milliseconds(Int64(ms.rounded()))
        }
        guard let value = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value) { return .milliseconds(Int64((seconds * 1000).rounded())) }
        guard let date = httpDate(value) else { return nil }
        return .milliseconds(Int64((date.timeIntervalSince(now) * 1000).rounded()))
    }

    /// When a rate limit resets, from the headers: `retry-after-ms` / `retry-after`, else the latest
    /// `anthropic-ratelimit-*-reset` (RFC 3339), else the latest `x-ratelimit-reset-*` (a duration
    /// like `6m0s` or `20ms`). `nil` when the headers do not say.
    public static func resetTime(headers: [String: String], now: Date = Timestamp.nowDate) -> Timestamp? {
        func stamp(_ date: Date) -> Timestamp {
            Timestamp(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded()))
        }
        if let wait = retryAfter(headers: headers, now: now) {
            let (seconds, attoseconds) = wait.components
            return stamp(now.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18))
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let anthropic = headers.filter { $0.key.hasPrefix("anthropic-ratelimit-") && $0.key.hasSuffix("-reset") }
            .compactMap { formatter.date(from: $0.value) ?? fractional.date(from: $0.value) }
        if let latest = anthropic.max() { return stamp(latest) }
        let openAI = headers.filter { $0.key.hasPrefix("x-ratelimit-reset-") }.compactMap { goDuration($0.value) }
        if let longest = openAI.max() { return stamp(now.addingTimeInterval(longest)) }
        return nil
    }

    /// Parses an IMF-fixdate (`Sun, 22 Nov 2026 09:30:00 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// Parses a duration such as `1s`, `6m0s`, `1h2m3.5s` or `20ms`, in seconds.
    static func goDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        return total
    }
}
