import Bus
import Foundation
import Roles
import Testing

/// Recognising usage and rate limits in agents' words, and their reset times across time zones.
@Suite("UsageLimitText")
struct UsageLimitTextTests {
    /// 2026-07-10T12:30:00Z: 13:30 in Lisbon (summer time), 08:30 in New York, 21:30 in Tokyo.
    let now = Date(timeIntervalSince1970: 1_783_686_600)
    let utc = TimeZone(identifier: "UTC")!

    func stamp(_ rfc3339: String) -> Timestamp? { Timestamp(rfc3339: rfc3339) }

    @Test("the epoch after the bar, in seconds or milliseconds")
    func epoch() throws {
        let seconds = try #require(UsageLimitText.recognize("Claude AI usage limit reached|1783771200", now: now))
        #expect(seconds.resetsAt == stamp("2026-07-11T12:00:00Z"))
        #expect(seconds.message == "Claude AI usage limit reached|1783771200")
        let millis = UsageLimitText.recognize("noise\nClaude AI usage limit reached|1783771200500\n", now: now)
        #expect(millis?.resetsAt == stamp("2026-07-11T12:00:00.500Z"))
    }

    @Test("resets 1pm in a named zone that has passed today is tomorrow's 1pm there")
    func namedZone() throws {
        let limit = try #require(
            UsageLimitText.recognize("You've hit your limit · resets 1pm (Europe/Lisbon)", now: now, timeZone: utc))
        #expect(limit.resetsAt == stamp("2026-07-11T12:00:00Z"))
        let later = UsageLimitText.recognize(
            "You've hit your limit · resets 11:45pm (Asia/Tokyo)", now: now, timeZone: utc)
        #expect(later?.resetsAt == stamp("2026-07-10T14:45:00Z"))
    }

    @Test("resets 3pm without a zone is the next 3pm in the local zone")
    func localZone() {
        let newYork = TimeZone(identifier: "America/New_York")!
        let limit = UsageLimitText.recognize("5-hour limit reached ∙ resets 3pm", now: now, timeZone: newYork)
        #expect(limit?.resetsAt == stamp("2026-07-10T19:00:00Z"))
        let midnight = UsageLimitText.recognize("Weekly limit reached ∙ resets 12am", now: now, timeZone: utc)
        #expect(midnight?.resetsAt == stamp("2026-07-11T00:00:00Z"))
    }

    @Test("try again at a time, or at a date with a year")
    func tryAgain() {
        let time = UsageLimitText.recognize(
            "You've hit your usage limit. Upgrade to Pro or try again at 3:05 PM.", now: now, timeZone: utc)
        #expect(time?.resetsAt == stamp("2026-07-10T15:05:00Z"))
        let tokyo = TimeZone(identifier: "Asia/Tokyo")!
        let date = UsageLimitText.recognize(
            "You've hit your usage limit. Try again at Sep 19th, 2026 7:10 AM.", now: now, timeZone: tokyo)
        #expect(date?.resetsAt == stamp("2026-09-18T22:10:00Z"))
    }

    @Test("limits without a reset time, and retry delays")
    func noReset() throws {
        for text in [
            "API Error: Rate limit reached", "The API provider has rate limited you.",
            "You have exhausted your daily quota on this model.",
        ] {
            let limit = try #require(UsageLimitText.recognize(text, now: now))
            #expect(limit.resetsAt == nil)
            #expect(limit.message == text)
        }
        let retry = UsageLimitText.recognize("Quota exceeded for metric. Please retry in 23.5s.", now: now)
        #expect(retry?.resetsAt == stamp("2026-07-10T12:30:23.500Z"))
    }

    @Test("text without a limit is not one")
    func notALimit() {
        #expect(UsageLimitText.recognize("All tests pass.\nrate_limit_info seen", now: now) == nil)
        #expect(UsageLimitText.recognize("", now: now) == nil)
        #expect(UsageLimitText.recognize("OAuth token has expired", now: now) == nil)
        #expect(UsageLimitText.recognize("error_max_turns: turn limit reached", now: now) == nil)
        #expect(UsageLimitText.recognize("budget limit reached", now: now) == nil)
    }
}
