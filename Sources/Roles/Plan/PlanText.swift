/// Small text helpers for plan messages and the route.
enum PlanText {
    /// `words` as one shell line: each word as it is when it needs no quoting, else in single
    /// quotes.
    static func shellLine(_ words: [String]) -> String {
        words.map { word in
            let plain = !word.isEmpty && word.unicodeScalars.allSatisfy { plainShell.contains($0) }
            return plain
                ? word
                : "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }.joined(separator: " ")
    }

    /// The characters a shell word may have without quoting.
    static let plainShell = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%".unicodeScalars)

    /// True when `text` is one line: no control characters (C0, DEL and C1, which holds the next
    /// line character U+0085) and no Unicode line or paragraph separator (U+2028, U+2029).
    static func isOneLine(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { s in
            s.value >= 0x20 && !(0x7F...0x9F).contains(s.value) && s.value != 0x2028 && s.value != 0x2029
        }
    }
}
