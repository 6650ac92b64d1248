/// The credential patterns the secret scan looks for, matched by hand on the bytes of one line
/// (no regular expressions: a line is read once, and only the few places that start like a
/// credential are looked at more closely).
///
/// In order of precedence (a match overlapping an earlier one is dropped):
/// - private key blocks: `-----BEGIN … PRIVATE KEY-----` (`RSA`, `EC`, `OPENSSH`, `PGP … BLOCK`…);
/// - Anthropic keys: `sk-ant-` and 20 or more of `[A-Za-z0-9_-]`;
/// - OpenAI-style keys: `sk-` and 20 or more of `[A-Za-z0-9_-]`;
/// - GitHub tokens: `gh[pousr]_` and 36 or more of `[A-Za-z0-9]`, or `github_pat_` and 22 or more
///   of `[A-Za-z0-9_]`;
/// - Slack tokens: `xox[baprs]-` and 10 or more of `[A-Za-z0-9-]`;
/// - AWS access key ids: `AKIA` or `ASIA` and exactly 16 of `[0-9A-Z]`;
/// - Google API keys: `AIza` and exactly 35 of `[0-9A-Za-z_-]`;
/// - assignments of a quoted literal of 16 or more characters without spaces to a name containing
///   `password`, `passwd`, `secret`, `token`, `api_key`, `apikey`, `api-key`, `access_key`,
///   `private_key` or `credential` (any case, not followed by a lower-case letter, so `tokenizer`
///   is not one): `DB_PASSWORD = "…"`, `"api_key": "…"`, `token := "…"`, `secret => '…'`.
///   Values that look like placeholders or references are left alone: with `${`, `{{`, `$(` or
///   `://`, starting with `$` or `<`, or with fewer than 5 distinct characters.
///
/// Prefixed tokens must not continue a longer word: the character before them must not be one
/// their body could contain.
enum SecretPatterns {
    /// One credential found in a line.
    struct Hit: Sendable, Equatable {
        /// What it is, such as `AWS access key id`.
        var kind: String
        /// The credential's bytes in the line.
        var range: Range<Int>
        /// What to show instead of the masked credential, when it is not secret itself (the
        /// header of a private key block).
        var label: String?
        /// Lower comes first when two hits overlap.
        var precedence: Int
    }

    /// A credential that starts with a fixed prefix.
    struct Prefixed: Sendable {
        var kind: String
        var prefixes: [[UInt8]]
        /// The characters of the body after the prefix.
        var body: @Sendable (UInt8) -> Bool
        /// The fewest body characters.
        var minimum: Int
        /// True when the body must be exactly ``minimum`` long, not followed by a word character.
        var exact: Bool
        /// Characters that, just before the prefix, make it part of a longer word.
        var joinsBefore: @Sendable (UInt8) -> Bool
    }

    static func isUpper(_ c: UInt8) -> Bool { c >= 0x41 && c <= 0x5A }
    static func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isAlnum(_ c: UInt8) -> Bool { isUpper(c) || isLower(c) || isDigit(c) }
    static func isToken(_ c: UInt8) -> Bool { isAlnum(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") }
    static func isName(_ c: UInt8) -> Bool { isToken(c) || c == UInt8(ascii: ".") }
    static func isBlank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The prefixed patterns, by the first byte of their prefixes (256 lists), in precedence order.
    static let prefixed: [[(precedence: Int, pattern: Prefixed)]] = {
        let patterns: [Prefixed] = [
            Prefixed(
                kind: "Anthropic API key", prefixes: [bytes("sk-ant-")], body: isToken, minimum: 20, exact: false,
                joinsBefore: isToken),
            Prefixed(
                kind: "OpenAI-style API key", prefixes: [bytes("sk-")], body: isToken, minimum: 20, exact: false,
                joinsBefore: isToken),
            Prefixed(
                kind: "GitHub token", prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].map(bytes), body: isAlnum,
                minimum: 36, exact: false, joinsBefore: isToken),
            Prefixed(
                kind: "GitHub token", prefixes: [bytes("github_pat_")],
                body: { isAlnum($0) || $0 == UInt8(ascii: "_") }, minimum: 22, exact: false, joinsBefore: isToken),
            Prefixed(
                kind: "Slack token", prefixes: ["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"].map(bytes),
                body: { isAlnum($0) || $0 == UInt8(ascii: "-") }, minimum: 10, exact: false, joinsBefore: isAlnum),
            Prefixed(
                kind: "AWS access key id", prefixes: ["AKIA", "ASIA"].map(bytes),
                body: { isUpper($0) || isDigit($0) }, minimum: 16, exact: true, joinsBefore: isAlnum),
            Prefixed(
                kind: "Google API key", prefixes: [bytes("AIza")], body: isToken, minimum: 35, exact: true,
                joinsBefore: isToken),
        ]
        var table: [[(precedence: Int, pattern: Prefixed)]] = Array(repeating: [], count: 256)
        for (index, pattern) in patterns.enumerated() {
            for first in Set(pattern.prefixes.map { $0[0] }) {
                table[Int(first)].append((index + 1, pattern))
            }
        }
        return table
    }()

    /// The names a secret is assigned to, lower-case, by first byte in either case (256 lists).
    static let keywords: [[[UInt8]]] = {
        var table: [[[UInt8]]] = Array(repeating: [], count: 256)
        for word in [
            "password", "passwd", "secret", "token", "api_key", "apikey", "api-key", "access_key", "private_key",
            "credential",
        ].map(bytes) {
            table[Int(word[0])].append(word)
            table[Int(word[0] - 0x20)].append(word)
        }
        return table
    }()

    /// The bytes a credential can start with: a prefix's, a keyword's, or `-` of a private key.
    static let starts: [Bool] = (0..<256).map { byte in
        !prefixed[byte].isEmpty || !keywords[byte].isEmpty || byte == Int(UInt8(ascii: "-"))
    }

    /// The precedence of assignments: after every prefixed pattern.
    static let assignmentPrecedence = 100

    /// The credentials in one line, left to right, without overlaps.
    static func scan(_ line: [UInt8]) -> [Hit] {
        // Nothing shorter can hold a credential (the shortest, a Slack token, is 15 bytes).
        guard line.count >= 15 else { return [] }
        var hits: [Hit] = []
        var i = 0
        while i < line.count {
            let c = line[i]
            guard starts[Int(c)] else {
                i += 1
                continue
            }
            if c == UInt8(ascii: "-"), let hit = privateKey(line, at: i) { hits.append(hit) }
            for (precedence, pattern) in prefixed[Int(c)] {
                if let range = match(pattern, in: line, at: i) {
                    hits.append(Hit(kind: pattern.kind, range: range, precedence: precedence))
                    break
                }
            }
            for word in keywords[Int(c)] {
                if let hit = assignment(line, at: i, keyword: word) {
                    hits.append(hit)
                    break
                }
            }
            i += 1
        }
        guard hits.count > 1 else { return hits }
        var kept: [Hit] = []
        for hit in hits.sorted(by: { ($0.precedence, $0.range.lowerBound) < ($1.precedence, $1.range.lowerBound) })
        where !kept.contains(where: { $0.range.overlaps(hit.range) }) {
            kept.append(hit)
        }
        return kept.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// True when `line` holds `word` at `index`.
    static func has(_ line: [UInt8], _ word: [UInt8], at index: Int, ignoringCase: Bool = false) -> Bool {
        guard index + word.count <= line.count else { return false }
        for k in 0..<word.count {
            let c = line[index + k]
            if c != word[k] && !(ignoringCase && isUpper(c) && c | 0x20 == word[k]) { return false }
        }
        return true
    }

    /// The range of a credential matching `pattern` that starts at `index`.
    static func match(_ pattern: Prefixed, in line: [UInt8], at index: Int) -> Range<Int>? {
        guard index == 0 || !pattern.joinsBefore(line[index - 1]),
            let prefix = pattern.prefixes.first(where: { has(line, $0, at: index) })
        else { return nil }
        var end = index + prefix.count
        while end < line.count, pattern.body(line[end]) { end += 1 }
        let length = end - index - prefix.count
        if pattern.exact {
            guard length == pattern.minimum, end == line.count || !isAlnum(line[end]) else { return nil }
        } else {
            guard length >= pattern.minimum else { return nil }
        }
        return index..<end
    }

    /// A private key block's header starting at `index`: `-----BEGIN `, capitals, digits and
    /// spaces including `PRIVATE KEY`, then `-----`.
    static func privateKey(_ line: [UInt8], at index: Int) -> Hit? {
        let begin = bytes("-----BEGIN ")
        guard has(line, begin, at: index) else { return nil }
        var end = index + begin.count
        while end < line.count, isUpper(line[end]) || isDigit(line[end]) || line[end] == UInt8(ascii: " ") {
            end += 1
        }
        let dashes = bytes("-----")
        guard has(line, dashes, at: end) else { return nil }
        let middle = Array(line[(index + begin.count)..<end])
        let words = middle.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        guard zip(words, words.dropFirst()).contains(where: { $0 == "PRIVATE" && $1 == "KEY" }) else { return nil }
        let range = index..<(end + dashes.count)
        return Hit(
            kind: "private key block", range: range, label: String(decoding: line[range], as: UTF8.self),
            precedence: 0)
    }

    /// An assignment of a quoted literal to a name containing `keyword` (found at `index`).
    static func assignment(_ line: [UInt8], at index: Int, keyword: [UInt8]) -> Hit? {
        guard has(line, keyword, at: index, ignoringCase: true) else { return nil }
        var end = index + keyword.count
        // `tokenizer`, `secretary`, `passwords`: another word.
        if end < line.count, isLower(line[end]) { return nil }
        var start = index
        while start > 0, isName(line[start - 1]) { start -= 1 }
        while end < line.count, isName(line[end]) { end += 1 }
        let name = String(decoding: line[start..<end], as: UTF8.self)
        var p = end
        // The closing quote of a quoted name, as in JSON.
        if p < line.count, line[p] == UInt8(ascii: "\"") || line[p] == UInt8(ascii: "'") { p += 1 }
        while p < line.count, isBlank(line[p]) { p += 1 }
        guard p < line.count else { return nil }
        switch line[p] {
        case UInt8(ascii: ":"):
            p += 1
            if p < line.count, line[p] == UInt8(ascii: "=") { p += 1 }
        case UInt8(ascii: "="):
            p += 1
            if p < line.count, line[p] == UInt8(ascii: "=") { return nil }
            if p < line.count, line[p] == UInt8(ascii: ">") { p += 1 }
        default: return nil
        }
        while p < line.count, isBlank(line[p]) { p += 1 }
        guard p < line.count else { return nil }
        let quote = line[p]
        guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") || quote == UInt8(ascii: "`") else {
            return nil
        }
        let valueStart = p + 1
        var valueEnd = valueStart
        while valueEnd < line.count, line[valueEnd] != quote, !isBlank(line[valueEnd]) { valueEnd += 1 }
        guard valueEnd < line.count, line[valueEnd] == quote, valueEnd - valueStart >= 16 else { return nil }
        let value = Array(line[valueStart..<valueEnd])
        guard isLiteralSecret(value) else { return nil }
        return Hit(
            kind: "literal assigned to \(CheckText.clipped(name, to: 60))", range: valueStart..<valueEnd,
            precedence: assignmentPrecedence)
    }

    /// False for values that look like a placeholder or a reference rather than a secret.
    static func isLiteralSecret(_ value: [UInt8]) -> Bool {
        guard let first = value.first, first != UInt8(ascii: "$"), first != UInt8(ascii: "<") else { return false }
        for marker in ["${", "{{", "$(", "://"].map(bytes) {
            for k in value.indices where has(value, marker, at: k) { return false }
        }
        return Set(value).count >= 5
    }
}
