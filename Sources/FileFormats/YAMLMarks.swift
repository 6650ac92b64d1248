import Yams

/// Places in YAML text: finding the mapping of a key by its mark, and line and column of an offset.
public enum YAMLMarks {
    /// The mapping under `node` holding a key that starts at `mark`, and its field path.
    public static func mapping(in node: Node, path: String, withKeyAt mark: Mark) -> (String, Node.Mapping)? {
        switch node {
        case .mapping(let mapping):
            if mapping.keys.contains(where: { sameMark($0.mark, mark) }) { return (path, mapping) }
            for (key, value) in mapping {
                let name = key.scalar?.string ?? "?"
                if let found = Self.mapping(in: value, path: path.isEmpty ? name : "\(path).\(name)", withKeyAt: mark) {
                    return found
                }
            }
        case .sequence(let sequence):
            for (index, value) in sequence.enumerated() {
                if let found = Self.mapping(in: value, path: "\(path)[\(index)]", withKeyAt: mark) { return found }
            }
        default:
            break
        }
        return nil
    }

    public static func sameMark(_ a: Mark?, _ b: Mark) -> Bool {
        a?.line == b.line && a?.column == b.column
    }

    /// The 1-based line and column of the character at `offset` in `text`.
    public static func position(ofCharacter offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}
