import Foundation

/// Reads the reset time of a limit message: `resets 1pm (Europe/Lisbon)`, `resets 3:30pm`,
/// `try again at 3:05 PM`, `try again at Sep 19th, 2026 7:10 AM`, `retry in 23.5s`, `retry after
/// 30 seconds`.
enum ResetTimeText {
    private static let clock =
        #"(?:(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(\d{4}),?\s+)?(?:at\s+)?)?(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?:\s*\(([A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)\))?"#
    private static var clockPattern: Regex<AnyRegexOutput> {
        try! Regex(#"(?:resets|reset at|resets at|try again at|available at)\s+"# + clock)
            .ignoresCase()
    }
    private static var delayPattern: Regex<AnyRegexOutput> {
        try! Regex(
            #"(?:retry in|retry after|try again in|retrying in)\s+(\d+(?:\.\d+)?)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours)\b"#
        ).ignoresCase()
    }
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// The reset time `line` states, if any.
    static func resetTime(in line: String, now: Date, timeZone: TimeZone) -> Date? {
        if let match = try? delayPattern.firstMatch(in: line) {
            guard let amount = match.output[1].substring.flatMap({ Double($0) }),
                let unit = match.output[2].substring?.lowercased()
            else { return nil }
            let scale: Double = unit.hasPrefix("h") ? 3600 : unit.hasPrefix("m") ? 60 : 1
            return now.addingTimeInterval(amount * scale)
        }
        guard let match = try? clockPattern.firstMatch(in: line) else { return nil }
        let out = match.output
        func text(_ i: Int) -> String? { out[i].substring.map { String($0).lowercased() } }
        guard var hour = text(4).flatMap({ Int($0) }) else { return nil }
        let minute = text(5).flatMap { Int($0) } ?? 0
        let meridiem = text(6)
        // A bare number with neither minutes nor am/pm is not a time ("resets 5 hours from now").
        guard meridiem != nil || text(5) != nil else { return nil }
        if let meridiem {
            guard (1...12).contains(hour) else { return nil }
            if meridiem.hasPrefix("p"), hour != 12 { hour += 12 }
            if meridiem.hasPrefix("a"), hour == 12 { hour = 0 }
        }
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = out[7].substring.flatMap { TimeZone(identifier: String($0)) } ?? timeZone
        if let month = text(1).flatMap({ months.firstIndex(of: $0) }), let day = text(2).flatMap({ Int($0) }) {
            var components = DateComponents(month: month + 1, day: day, hour: hour, minute: minute, second: 0)
            if let year = text(3).flatMap({ Int($0) }) {
                components.year = year
                return calendar.date(from: components)
            }
            // No year: this year's date, or next year's when that has passed.
            components.year = calendar.component(.year, from: now)
            guard let date = calendar.date(from: components) else { return nil }
            return date > now ? date : calendar.date(byAdding: .year, value: 1, to: date)
        }
        var today = calendar.dateComponents([.year, .month, .day], from: now)
        today.hour = hour
        today.minute = minute
        today.second = 0
        guard let date = calendar.date(from: today) else { return nil }
        return date > now ? date : calendar.date(byAdding: .day, value: 1, to: date)
    }
}
