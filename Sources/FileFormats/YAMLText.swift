import Yams

/// Reading YAML text into a node tree, with every syntax error placed at its file, line and column.
public struct YAMLText: Sendable {
    /// Says what is wrong with a key written twice: given the field path of its mapping, the key,
    /// and the line of its first occurrence (when found), a message such as `duplicate key "x"
    /// (first at line 3); write each key once`.
    public var duplicateMessage: @Sendable (_ path: String, _ key: String, _ firstLine: Int?) -> String
    /// Added to a syntax error about an alias or anchor (`*` or `&` at the start of a value).
    public var aliasHint: String?

    public init(
        aliasHint: String? = nil,
        duplicateMessage: @escaping @Sendable (_ path: String, _ key: String, _ firstLine: Int?) -> String = {
            _, key, line in
            "duplicate key \(QuotedText.quoted(key))" + (line.map { " (first at line \($0))" } ?? "")
                + "; write each key once"
        }
    ) {
        self.aliasHint = aliasHint
        self.duplicateMessage = duplicateMessage
    }

    /// The node tree of `text` (`nil` for an empty document).
    /// - Throws: ``FileFormatError`` `invalidValue` whose message starts `FILE:LINE:COLUMN:`.
    public func compose(_ text: String, file: String) throws(FileFormatError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch {
            throw FileFormatError(.invalidValue, syntaxMessage(error, text: text, file: file))
        }
    }

    private func syntaxMessage(_ error: any Error, text: String, file: String) -> String {
        guard let error = error as? YamlError else { return "\(file): invalid YAML: \(error)" }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            if let context, context.text.contains("quoted scalar"), problem.contains("end of stream") {
                // Pointing at the end of the file says little: point at the quote that was never closed.
                return "\(file):\(context.mark.line):\(context.mark.column): invalid YAML: the quoted text that "
                    + "starts here is never closed (the file ends before its closing quote)"
            }
            var message = "\(file):\(mark.line):\(mark.column): invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            let about = problem + " " + (context?.text ?? "")
            if let aliasHint, about.contains("alias") || about.contains("anchor") { message += "; " + aliasHint }
            if Self.indentedWithTab(text, line: mark.line) {
                message += "; YAML does not allow tabs for indentation: indent with spaces"
            }
            return message
        case .reader(let problem, let offset, _, _):
            let (line, column) = YAMLMarks.position(ofCharacter: offset ?? 0, in: text)
            return "\(file):\(line):\(column): invalid text: \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return duplicateMessage(key: duplicates.first ?? "", first: context.mark, text: text, file: file)
        default:
            return "\(file): invalid YAML: \(error)"
        }
    }

    /// Whether line `line` (from 1) of `text` has a tab in its leading white space.
    static func indentedWithTab(_ text: String, line: Int) -> Bool {
        guard line >= 1 else { return false }
        let lines = text.unicodeScalars.split(separator: "\n", maxSplits: line, omittingEmptySubsequences: false)
        guard line <= lines.count else { return false }
        return lines[line - 1].prefix { $0 == " " || $0 == "\t" }.contains("\t")
    }

    /// The message for a key written twice in one mapping, pointing at the second occurrence.
    ///
    /// Yams reports only the first occurrence. To find the second one and the field path, the
    /// first occurrence is renamed in a copy of the text, which is read again.
    private func duplicateMessage(key: String, first: Mark, text: String, file: String) -> String {
        let fallback = "\(file):\(first.line):\(first.column): \(key): " + duplicateMessage("", key, nil)
        let marker = "planbus-renamed-"
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard first.line >= 1, first.line <= lines.count else { return fallback }
        var scalars = Array(lines[first.line - 1].unicodeScalars)
        guard first.column >= 1, first.column <= scalars.count + 1 else { return fallback }
        scalars.insert(contentsOf: marker.unicodeScalars, at: first.column - 1)
        lines[first.line - 1] = String(String.UnicodeScalarView(scalars))
        guard let root = try? Yams.compose(yaml: lines.joined(separator: "\n")),
            let (path, mapping) = YAMLMarks.mapping(in: root, path: "", withKeyAt: first),
            let second = mapping.keys.first(where: { $0.scalar?.string == key && !YAMLMarks.sameMark($0.mark, first) }),
            let mark = second.mark
        else { return fallback }
        var column = mark.column
        if mark.line == first.line, column > first.column { column -= marker.unicodeScalars.count }
        let field = path.isEmpty ? key : "\(path).\(key)"
        return "\(file):\(mark.line):\(column): \(field): " + duplicateMessage(path, key, first.line)
    }
}
