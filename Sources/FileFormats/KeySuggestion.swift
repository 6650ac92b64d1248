/// Suggestions for misspelled keys.
public enum KeySuggestion {
    /// The word in `known` that `key` was probably meant to be: the same apart from case, dashes
    /// and underscores, or with a `_ms` suffix dropped (as in `bus.json`), or else the nearest within
    /// two edits.
    public static func closest(to key: String, in known: [String]) -> String? {
        let squash = { (s: String) in s.lowercased().filter { $0 != "_" && $0 != "-" } }
        if let same = known.first(where: { squash($0) == squash(key) }) { return same }
        if key.hasSuffix("_ms"), let same = known.first(where: { $0 == key.dropLast(3) }) { return same }
        let scored = known.map { ($0, distance(key.lowercased(), $0.lowercased())) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 < $1.1 }?.0
    }

    /// The Levenshtein distance between `a` and `b`.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
