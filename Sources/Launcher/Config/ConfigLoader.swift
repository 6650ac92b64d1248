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
    public static let agents = AgentCatalog.names

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
            root = try yaml.compose(text, file: file)
        } catch {
            throw LauncherError(.invalidConfig, error.message)
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

    /// How `planbus.yaml` is read: a role defined twice is named as such.
    static let yaml = YAMLText { path, key, firstLine in
        guard let firstLine else { return "duplicate key \(QuotedText.quoted(key)) (each key once)" }
        return path == "roles"
            ? "role \(QuotedText.quoted(key)) is defined twice (first at line \(firstLine)); define each role once"
            : "duplicate key \(QuotedText.quoted(key)) (first at line \(firstLine)); write each key once"
    }
}
