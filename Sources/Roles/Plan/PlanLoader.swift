import FileFormats
import Yams

/// Reads and checks plan files.
///
/// Every mistake in a plan is an error that names the file, line, column and field, says what is
/// wrong and what is expected, for example
/// `/home/ana/shop/plan.yaml:12:17: tasks[1].candidates: must be an integer from 1 to 8, got "two"`.
/// Unknown keys, duplicate keys and values of the wrong type are errors, so a typo never falls
/// back to a default. Beyond single fields, the loader checks the plan as a whole: task ids are
/// unique, dependencies name tasks of the plan and form no cycle, there is at least one task,
/// scope globs stay inside the repository, and the repository is a git repository.
///
/// `docs/PLAN.md` describes the format field by field.
public enum PlanLoader {
    /// Reads and checks the plan file at `path`.
    ///
    /// - Parameter path: The plan file, absolute or relative to the current directory.
    /// - Returns: The plan, with its repository as an absolute path.
    /// - Throws: ``RoleError`` `notFound` when there is no file at `path`, `io` when it cannot be
    ///   read, and `invalidPlan` when it is not a valid plan.
    public static func load(path: String) throws(RoleError) -> Plan {
        let file = FilePaths.absolute(path)
        let bytes: [UInt8]
        do {
            bytes = try FilePaths.contents(of: file)
        } catch {
            throw error.code == .notFound
                ? RoleError(.notFound, "no plan file at \(file)") : RoleError(.io, error.description)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw RoleError(.invalidPlan, "\(file): not UTF-8 text")
        }
        return try parse(text, file: file)
    }

    /// Reads and checks plan text.
    ///
    /// - Parameters:
    ///   - text: The YAML text.
    ///   - file: The absolute path of the file the text came from; messages name it, and a relative
    ///     `repository` is resolved against its folder.
    /// - Returns: The plan.
    /// - Throws: ``RoleError`` `invalidPlan` with a message of the form
    ///   `FILE:LINE:COLUMN: FIELD: what is wrong (what is expected)`.
    public static func parse(_ text: String, file: String) throws(RoleError) -> Plan {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw syntaxError(error, text: text, file: file)
        }
        let reader = PlanReader(file: file, folder: FilePaths.folder(of: file))
        let read = try reader.read(root)
        try PlanChecks(read: read).check()
        return read.plan
    }

    /// An `invalidPlan` error for YAML that Yams could not read.
    static func syntaxError(_ error: any Error, text: String, file: String) -> RoleError {
        guard let error = error as? YamlError else {
            return RoleError(.invalidPlan, "\(file): invalid YAML: \(error)")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "\(file):\(mark.line):\(mark.column): invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            let about = problem + " " + (context?.text ?? "")
            if about.contains("alias") || about.contains("anchor") {
                message += "; quote globs that start with * or &, such as \"**/*.swift\""
            }
            return RoleError(.invalidPlan, message)
        case .reader(let problem, let offset, _, _):
            let (line, column) = YAMLMarks.position(ofCharacter: offset ?? 0, in: text)
            return RoleError(.invalidPlan, "\(file):\(line):\(column): invalid text: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return duplicateError(key: duplicates.first ?? "", first: context.mark, text: text, file: file)
        default:
            return RoleError(.invalidPlan, "\(file): invalid YAML: \(error)")
        }
    }

    /// An error for a key written twice in one mapping, pointing at the second occurrence.
    ///
    /// Yams reports only the first occurrence. To find the second one and the field path, the
    /// first occurrence is renamed in a copy of the text, which is read again.
    static func duplicateError(key: String, first: Mark, text: String, file: String) -> RoleError {
        let fallback = RoleError(
            .invalidPlan,
            "\(file):\(first.line):\(first.column): \(key): duplicate key \(QuotedText.quoted(key)); write each key once"
        )
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
        return RoleError(
            .invalidPlan,
            "\(file):\(mark.line):\(column): \(field): duplicate key \(QuotedText.quoted(key)) (first at line "
                + "\(first.line)); write each key once")
    }
}
