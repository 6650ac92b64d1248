/// Text quoting for messages about files.
public enum QuotedText {
    /// `text` in double quotes, with backslash escapes (control characters, C1 included, and the
    /// line and paragraph separators are escaped); valid in messages and as a YAML scalar.
    public static func quoted(_ text: some StringProtocol) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `text` quoted as ``quoted(_:)`` does, cut to its first `limit` characters (with `…` and the
    /// full length after the quotes) when it is longer, so a message never repeats a huge value.
    public static func quoted(_ text: some StringProtocol, cutAt limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return quoted(text) }
        let head = String(String.UnicodeScalarView(scalars.prefix(limit)))
        let full = quoted(head)
        return String(full.dropLast()) + "…\" (\(scalars.count) characters)"
    }
}
