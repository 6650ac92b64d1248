/// A path pattern, such as `Sources/**/*.swift`, matched against relative paths like the ones git
/// prints (`Sources/Roles/Plan.swift`: no leading `/` or `./`).
///
/// The pattern is split at `/` into segments, and a path matches when its segments match the
/// pattern's one for one:
///
/// - `*` matches any run of characters within a segment, including none and including a leading
///   `.`, but never `/`;
/// - `?` matches one character other than `/`;
/// - `[abc]`, `[a-z]` match one character of the class, `[!abc]` or `[^abc]` one character not in
///   it; a `]` right after `[`, `[!` or `[^` is part of the class, and a `[` with no closing `]` is
///   an ordinary character;
/// - `\` makes the next character ordinary (`\*` matches a `*`);
/// - a segment that is exactly `**` matches any number of whole segments: `**/x` matches `x` and
///   `a/b/x`, `a/**/x` matches `a/x` and `a/b/c/x`; at the end, `a/**` matches everything inside
///   `a` (such as `a/x` and `a/b/x`) but not `a` itself; `**` elsewhere in a segment is `*`.
///
/// Matching is case-sensitive and works on Unicode scalars. Nothing else is special: a pattern
/// without wildcards matches exactly the one path it spells.
public struct Glob: Sendable, Equatable, Hashable {
    /// One character of a pattern.
    enum Token: Sendable, Equatable, Hashable {
        /// This character.
        case literal(Unicode.Scalar)
        /// `?`: any one character.
        case any
        /// `*`: any run of characters.
        case star
        /// `[...]`: one character in (or, when negated, not in) the ranges.
        case set([ClosedRange<UInt32>], negated: Bool)

        /// True when the token stands for exactly one character.
        var isSingle: Bool { self != .star }

        /// Whether this single-character token matches `scalar`.
        func matches(_ scalar: Unicode.Scalar) -> Bool {
            switch self {
            case .literal(let l): return l == scalar
            case .any: return true
            case .star: return false
            case .set(let ranges, let negated): return ranges.contains { $0.contains(scalar.value) } != negated
            }
        }
    }

    /// One `/`-separated part of a pattern.
    enum Segment: Sendable, Equatable, Hashable {
        /// `**`: any number of whole segments.
        case globstar
        /// Characters to match within one path segment.
        case tokens([Token])
    }

    /// The pattern as written.
    public let pattern: String
    /// The pattern's segments.
    let segments: [Segment]

    /// Reads a pattern. Every string is a pattern; see the type's description for the syntax.
    ///
    /// - Parameter pattern: The pattern, such as `Sources/**/*.swift`.
    public init(_ pattern: String) {
        self.pattern = pattern
        segments = pattern.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part == "**" ? .globstar : .tokens(Self.tokens(Array(part.unicodeScalars)))
        }
    }

    /// True when the pattern has no wildcards, so it matches one path only.
    public var isLiteral: Bool {
        segments.allSatisfy { segment in
            guard case .tokens(let tokens) = segment else { return false }
            return tokens.allSatisfy { if case .literal = $0 { return true } else { return false } }
        }
    }

    /// Whether `path` matches the pattern.
    ///
    /// - Parameter path: A relative path such as `Sources/Roles/Plan.swift`.
    /// - Returns: True when every segment of `path` matches the pattern's.
    public func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        var failed = Set<Int>()
        return match(segment: 0, part: 0, parts: parts, failed: &failed)
    }

    /// Whether the segments from `segment` on match the path parts from `part` on; `failed`
    /// remembers the positions already known not to match, so many `**` stay fast.
    private func match(segment: Int, part: Int, parts: [[Unicode.Scalar]], failed: inout Set<Int>) -> Bool {
        if segment == segments.count { return part == parts.count }
        let key = segment * (parts.count + 1) + part
        if failed.contains(key) { return false }
        var matched = false
        switch segments[segment] {
        case .globstar:
            if segment == segments.count - 1 {
                matched = part < parts.count
            } else {
                for next in part...parts.count
                where match(segment: segment + 1, part: next, parts: parts, failed: &failed) {
                    matched = true
                    break
                }
            }
        case .tokens(let tokens):
            matched =
                part < parts.count && Self.match(tokens, parts[part])
                && match(segment: segment + 1, part: part + 1, parts: parts, failed: &failed)
        }
        if !matched { failed.insert(key) }
        return matched
    }

    /// Whether `tokens` match all of `text`: each `*` takes as few characters as it can, and takes
    /// one more when the rest fails to match.
    static func match(_ tokens: [Token], _ text: [Unicode.Scalar]) -> Bool {
        var t = 0
        var s = 0
        var star: (token: Int, text: Int)?
        while s < text.count {
            if t < tokens.count, tokens[t] == .star {
                star = (t, s)
                t += 1
            } else if t < tokens.count, tokens[t].matches(text[s]) {
                t += 1
                s += 1
            } else if let last = star {
                star = (last.token, last.text + 1)
                t = last.token + 1
                s = last.text + 1
            } else {
                return false
            }
        }
        while t < tokens.count, tokens[t] == .star { t += 1 }
        return t == tokens.count
    }

    /// The tokens of one segment of a pattern.
    static func tokens(_ scalars: [Unicode.Scalar]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            switch c {
            case "*":
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case "?":
                tokens.append(.any)
                i += 1
            case "\\" where i + 1 < scalars.count:
                tokens.append(.literal(scalars[i + 1]))
                i += 2
            case "[":
                if let (set, end) = characterClass(scalars, from: i) {
                    tokens.append(set)
                    i = end
                } else {
                    tokens.append(.literal(c))
                    i += 1
                }
            default:
                tokens.append(.literal(c))
                i += 1
            }
        }
        return tokens
    }

    /// The class that starts with the `[` at `start`, and the index after its `]`; `nil` when
    /// there is no closing `]`.
    static func characterClass(_ scalars: [Unicode.Scalar], from start: Int) -> (Token, Int)? {
        var i = start + 1
        var negated = false
        if i < scalars.count, scalars[i] == "!" || scalars[i] == "^" {
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while i < scalars.count {
            var c = scalars[i]
            if c == "]" && !first { return (.set(ranges, negated: negated), i + 1) }
            first = false
            if c == "\\", i + 1 < scalars.count {
                i += 1
                c = scalars[i]
            }
            if i + 2 < scalars.count, scalars[i + 1] == "-", scalars[i + 2] != "]" {
                var upper = scalars[i + 2]
                var next = i + 3
                if upper == "\\", i + 3 < scalars.count {
                    upper = scalars[i + 3]
                    next = i + 4
                }
                if c.value <= upper.value { ranges.append(c.value...upper.value) }
                i = next
            } else {
                ranges.append(c.value...c.value)
                i += 1
            }
        }
        return nil
    }
}
