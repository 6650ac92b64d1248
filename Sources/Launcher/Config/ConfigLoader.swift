import Bus
import FileFormats
import Foundation
import Roles
import Yams

#if canImport(Glibc)
    import Glibc
#endif

/// Reads and checks `planbus.yaml`.
///
/// Every mistake in the file is an error that names the file, line, column and field, says what
/// is wrong and what is expected, for example
/// `planbus.yaml:12:16: roles.builder.instances: must be an integer from 0 to 64, got "two"`.
/// Unknown keys, duplicate keys and values of the wrong type are errors too, so a typo never
/// silently falls back to a default. An empty file, or one of only comments, is the defaults.
///
/// `docs/CONFIG.md` describes the format field by field.
public enum ConfigLoader {
    /// The agents a role may drive (`none` runs the role offline and deterministically).
    public static let agents = [
        "none", "claude", "codex", "gemini", "aider", "cursor-agent", "command", "openai", "anthropic",
    ]

    /// Reads the configuration file at `path`.
    ///
    /// - Parameter path: The file, absolute or relative to the current directory.
    /// - Returns: The configuration, with relative paths resolved against the file's folder.
    /// - Throws: ``LauncherError`` `notFound` when there is no file at `path`, `io` when it cannot
    ///   be read, and `invalidConfig` when it is not a valid configuration.
    public static func load(path: String) throws(LauncherError) -> PlanbusConfig {
        let file = FilePaths.absolute(path)
        return try parse(text(of: file), file: file)
    }

    /// The text of the configuration file `file` (absolute).
    /// - Throws: ``LauncherError`` `notFound`, `io`, or `invalidConfig` when it is not UTF-8.
    static func text(of file: String) throws(LauncherError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try FilePaths.contents(of: file)
        } catch {
            if error.code == .notFound {
                throw LauncherError(.notFound, "no configuration at \(file) (create one with planbus init)")
            }
            throw LauncherError(.io, error.message, errno: error.errno)
        }
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw LauncherError(.invalidConfig, "\(file): not UTF-8 text")
        }
        return text
    }

    /// Reads configuration text.
    ///
    /// - Parameters:
    ///   - text: The YAML text.
    ///   - file: The absolute path of the file the text came from; messages name it, and relative
    ///     `bus` and `repository` paths are resolved against its folder.
    /// - Returns: The configuration; an empty text (or only comments) gives the defaults.
    /// - Throws: ``LauncherError`` `invalidConfig` with a message of the form
    ///   `FILE:LINE:COLUMN: FIELD: what is wrong (what is expected)`.
    public static func parse(_ text: String, file: String) throws(LauncherError) -> PlanbusConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw syntaxError(error, text: text, file: file)
        }
        let reader = ConfigReader(file: file, folder: FilePaths.folder(of: file))
        return try reader.read(root)
    }

    /// The configuration used when there is no file.
    ///
    /// - Parameter directory: The folder the configuration is for (usually the current directory).
    /// - Returns: The bus at `directory/bus`, the repository at `directory`, default settings and the
    ///   five product roles.
    public static func defaults(directory: String) -> PlanbusConfig {
        let folder = FilePaths.absolute(directory)
        return PlanbusConfig(bus: FilePaths.resolve("bus", against: folder), repository: folder)
    }

    /// An `invalidConfig` error for YAML that Yams could not read.
    static func syntaxError(_ error: any Error, text: String, file: String) -> LauncherError {
        guard let error = error as? YamlError else {
            return LauncherError(.invalidConfig, "\(file): invalid YAML: \(error)")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "\(file):\(mark.line):\(mark.column): invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return LauncherError(.invalidConfig, message)
        case .reader(let problem, let offset, _, _):
            let (line, column) = YAMLMarks.position(ofCharacter: offset ?? 0, in: text)
            return LauncherError(.invalidConfig, "\(file):\(line):\(column): invalid text: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return duplicateError(key: duplicates.first ?? "", first: context.mark, text: text, file: file)
        default:
            return LauncherError(.invalidConfig, "\(file): invalid YAML: \(error)")
        }
    }

    /// An error for a key written twice in one mapping, pointing at the second occurrence.
    ///
    /// Yams reports only the first occurrence. To find the second one and the field path, the
    /// first occurrence is renamed in a copy of the text, which is read again.
    static func duplicateError(key: String, first: Mark, text: String, file: String) -> LauncherError {
        let fallback = LauncherError(
            .invalidConfig,
            "\(file):\(first.line):\(first.column): \(key): duplicate key \(QuotedText.quoted(key)) (each key once)")
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
        let what =
            path == "roles"
            ? "role \(QuotedText.quoted(key)) is defined twice (first at line \(first.line)); define each role once"
            : "duplicate key \(QuotedText.quoted(key)) (first at line \(first.line)); write each key once"
        return LauncherError(.invalidConfig, "\(file):\(mark.line):\(column): \(field): \(what)")
    }
}
