extension Glob {
    /// Whether some path could match both this pattern and `other`; conservative: true unless the
    /// two are proven disjoint.
    ///
    /// The test looks for a mismatch that no path can get around:
    ///
    /// - at the same segment counted from the start, before either pattern's first `**`, or
    ///   counted from the end, after either pattern's last `**`;
    /// - within such a pair of segments, at the same character counted from the start before
    ///   either segment's first `*`, or from the end after either segment's last `*` (two
    ///   different characters, or a character outside a class); and two segments without `*` of
    ///   different lengths, or a segment without `*` shorter than the other's fixed characters;
    /// - a different number of segments when neither pattern has `**`, or fewer segments in a
    ///   pattern without `**` than the other's segments other than `**`.
    ///
    /// Anything else counts as an overlap, even when no path could match both (two classes are
    /// never compared with each other, for example). So `src/a/**` and `src/b/**` do not overlap,
    /// nor `**/*.swift` and `docs/*.md`, while `src/**` and `src/x.swift` do, and so do `a` and
    /// `a/**` (a file and a folder of the same name cannot both exist, but a change can turn one
    /// into the other).
    ///
    /// - Parameter other: The other pattern.
    /// - Returns: False only when no path can match both patterns.
    public func mayOverlap(_ other: Glob) -> Bool {
        let a = segments
        let b = other.segments
        let aDeep = a.contains(.globstar)
        let bDeep = b.contains(.globstar)
        if !aDeep && !bDeep && a.count != b.count { return false }
        if !aDeep && a.count < b.count(where: { $0 != .globstar }) { return false }
        if !bDeep && b.count < a.count(where: { $0 != .globstar }) { return false }
        for (x, y) in zip(a, b) {
            guard case .tokens(let x) = x, case .tokens(let y) = y else { break }
            if !Self.mayMeet(x, y) { return false }
        }
        for (x, y) in zip(a.reversed(), b.reversed()) {
            guard case .tokens(let x) = x, case .tokens(let y) = y else { break }
            if !Self.mayMeet(x, y) { return false }
        }
        return true
    }

    /// Whether some one segment could match both `x` and `y`; conservative like ``mayOverlap(_:)``.
    static func mayMeet(_ x: [Token], _ y: [Token]) -> Bool {
        let xStar = x.contains(.star)
        let yStar = y.contains(.star)
        if !xStar && !yStar && x.count != y.count { return false }
        if !xStar && x.count < y.count(where: \.isSingle) { return false }
        if !yStar && y.count < x.count(where: \.isSingle) { return false }
        for (p, q) in zip(x, y) {
            guard p.isSingle, q.isSingle else { break }
            if !mayMeet(p, q) { return false }
        }
        for (p, q) in zip(x.reversed(), y.reversed()) {
            guard p.isSingle, q.isSingle else { break }
            if !mayMeet(p, q) { return false }
        }
        return true
    }

    /// Whether one character could match both single-character tokens.
    static func mayMeet(_ p: Token, _ q: Token) -> Bool {
        switch (p, q) {
        case (.literal(let l), .literal(let m)): return l == m
        case (.literal(let l), .set), (.set, .literal(let l)):
            return p.matches(l) && q.matches(l)
        default: return true
        }
    }
}
