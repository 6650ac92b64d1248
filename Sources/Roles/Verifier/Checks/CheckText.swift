/// Small text helpers for the verifier's messages.
enum CheckText {
    /// `count` and the noun, plural when `count` is not 1: `1 file`, `7 files`.
    static func count(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }

    /// A duration for people: `250ms` under a second, else seconds with one decimal, `12.3s`.
    static func duration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let ms = max(0, seconds * 1_000 + attoseconds / 1_000_000_000_000_000)
        if ms < 1_000 { return "\(ms)ms" }
        return "\(ms / 1_000).\(ms % 1_000 / 100)s"
    }

    /// A duration in whole milliseconds, for JSON.
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }

    /// The first `limit` items joined with `, `, then `and N more` for the rest.
    static func list(_ items: [String], limit: Int = 20) -> String {
        let shown = items.prefix(limit).joined(separator: ", ")
        return items.count > limit ? shown + " and \(items.count - limit) more" : shown
    }

    /// `secret` with all but its first 4 characters replaced by `*` (at most 32 of them), so a
    /// person can find it without the message repeating it.
    static func masked(_ secret: String) -> String {
        let hidden = max(secret.count - 4, 0)
        return String(secret.prefix(4)) + String(repeating: "*", count: min(max(hidden, 4), 32))
    }

    /// `text` cut to `limit` characters, with `…` when cut.
    static func clipped(_ text: String, to limit: Int) -> String {
        text.count > limit ? String(text.prefix(limit)) + "…" : text
    }
}
