import FileFormats
import Yams

extension PlanReader {
    // MARK: Mappings

    /// The entries of the mapping `node` (none when it is null), checked against `known`.
    func entries(_ node: Node, _ field: String, known: [String]) throws(RoleError) -> [Entry] {
        if isNull(node) { return [] }
        guard case .mapping(let mapping) = node else {
            throw RoleError(
                .invalidPlan,
                "\(location(node)): \(field): must be a mapping (key: value lines indented under it), got "
                    + describe(node))
        }
        var result: [Entry] = []
        var seen: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw RoleError(
                    .invalidPlan, "\(location(keyNode)): \(field): keys must be words, got \(describe(keyNode))")
            }
            let key = scalar.string
            let keyField = field.isEmpty ? key : "\(field).\(key)"
            if !known.contains(key) {
                var what = "unknown key"
                if let suggestion = KeySuggestion.closest(to: key, in: known) {
                    what += ", did you mean \(QuotedText.quoted(suggestion))?"
                }
                throw RoleError(
                    .invalidPlan,
                    "\(location(keyNode)): \(keyField): \(what) (known keys: \(known.joined(separator: ", ")))")
            }
            if let earlier = seen[key] {
                let line = earlier.mark.map { " (first at line \($0.line))" } ?? ""
                throw RoleError(
                    .invalidPlan,
                    "\(location(keyNode)): \(keyField): duplicate key \(QuotedText.quoted(key, cutAt: Self.shownLength))\(line); write each key once"
                )
            }
            seen[key] = keyNode
            result.append(Entry(key: key, keyNode: keyNode, value: value, field: keyField))
        }
        return result
    }

    /// Throws for the first key of `required` that `entries` lack, at the mapping `node`.
    func require(_ required: [(key: String, hint: String)], in entries: [Entry], of node: Node, _ field: String)
        throws(RoleError)
    {
        for (key, hint) in required where !entries.contains(where: { $0.key == key }) {
            let keyField = field.isEmpty ? key : "\(field).\(key)"
            throw RoleError(.invalidPlan, "\(location(node)): \(keyField): missing; \(hint)")
        }
    }

    /// The items of the list `entry` holds (none when it is null), each as an entry named
    /// `FIELD[INDEX]`.
    func items(_ entry: Entry, example: String) throws(RoleError) -> [Entry] {
        if isNull(entry.value) { return [] }
        guard case .sequence(let sequence) = entry.value else {
            throw fail(entry, "must be a list such as \(example), got \(describe(entry.value))")
        }
        return sequence.enumerated().map { index, item in
            Entry(key: "\(index)", keyNode: item, value: item, field: "\(entry.field)[\(index)]")
        }
    }

    // MARK: Values

    /// Whether `node` has the tag `name`, given or resolved from how the value is written.
    func hasTag(_ node: Node, _ name: Tag.Name) -> Bool {
        node.tag.rawValue == name.rawValue
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return hasTag(node, .null) }
        return false
    }

    func int(_ entry: Entry, _ range: ClosedRange<Int>) throws(RoleError) -> Int {
        guard hasTag(entry.value, .int), let value = entry.value.int, range.contains(value) else {
            let expected =
                range.upperBound == Int.max
                ? "a whole number of at least \(range.lowerBound)"
                : "an integer from \(range.lowerBound) to \(range.upperBound)"
            throw fail(entry, "must be \(expected), got \(describe(entry.value))")
        }
        return value
    }

    func bool(_ entry: Entry) throws(RoleError) -> Bool {
        guard hasTag(entry.value, .bool), let value = entry.value.bool else {
            throw fail(entry, "must be true or false, got \(describe(entry.value))")
        }
        return value
    }

    /// A string value: any scalar but null; `oneLine` refuses line breaks and control characters.
    func string(_ entry: Entry, allowEmpty: Bool = false, oneLine: Bool = false) throws(RoleError) -> String {
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value),
            allowEmpty || !scalar.string.allSatisfy(\.isWhitespace)
        else {
            let kind = oneLine ? "line of text" : "string"
            throw fail(entry, "must be \(allowEmpty ? "a" : "a non-empty") \(kind), got \(describe(entry.value))")
        }
        if oneLine && !PlanText.isOneLine(scalar.string) {
            throw fail(entry, "must be one line of text, got \(describe(entry.value))")
        }
        return scalar.string
    }

    func choice(_ entry: Entry, _ options: [String]) throws(RoleError) -> String {
        guard case .scalar(let scalar) = entry.value, options.contains(scalar.string) else {
            let list = options.dropLast().joined(separator: ", ") + " or " + (options.last ?? "")
            var what = "must be one of \(list), got \(describe(entry.value))"
            if case .scalar(let scalar) = entry.value, let near = KeySuggestion.closest(to: scalar.string, in: options)
            {
                what += "; did you mean \(QuotedText.quoted(near))?"
            }
            throw fail(entry, what)
        }
        return scalar.string
    }

    func duration(_ entry: Entry, _ range: ClosedRange<Duration>) throws(RoleError) -> Duration {
        let expected =
            "a duration \(DurationText.format(range))"
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value) else {
            throw fail(entry, "must be \(expected), got \(describe(entry.value))")
        }
        let value: Duration
        do {
            value = try DurationText.parse(scalar.string)
        } catch {
            throw fail(entry, error.message)
        }
        guard range.contains(value) else {
            throw fail(entry, "must be \(expected), got \(DurationText.format(value))")
        }
        return value
    }

    // MARK: Messages

    /// `FILE:LINE:COLUMN` of `node`, or `FILE` when it has no mark.
    func location(_ node: Node) -> String {
        guard let mark = node.mark else { return file }
        return "\(file):\(mark.line):\(mark.column)"
    }

    /// An error at `entry`'s value.
    func fail(_ entry: Entry, _ what: String) -> RoleError {
        RoleError(.invalidPlan, "\(location(entry.value)): \(entry.field): \(what)")
    }

    /// The most characters of a value a message repeats; longer values are cut.
    static let shownLength = 80

    /// How a value reads in a message: strings quoted (and cut at ``shownLength`` characters),
    /// other scalars as written.
    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if hasTag(node, .null) { return scalar.string.isEmpty ? "nothing" : scalar.string }
            return hasTag(node, .str) ? QuotedText.quoted(scalar.string, cutAt: Self.shownLength) : scalar.string
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}
