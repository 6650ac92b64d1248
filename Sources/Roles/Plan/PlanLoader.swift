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
    ///   read, and `invalidPlan` when it is not a valid plan: also when it is a folder or another
    ///   kind of file, larger than ``maxBytes``, or not UTF-8.
    public static func load(path: String) throws(RoleError) -> Plan {
        let file = FilePaths.absolute(path)
        let text: String
        do {
            text = try TextFile.read(file, limit: maxBytes)
        } catch {
            switch error.code {
            case .notFound: throw RoleError(.notFound, "no plan file at \(file)")
            case .invalidValue:
                let hint =
                    error.message.contains("over the limit") ? "; a plan travels in one bus envelope: split it" : ""
                throw RoleError(.invalidPlan, error.message + hint)
            case .io: throw RoleError(.io, error.description)
            }
        }
        return try parse(text, file: file)
    }

    /// The largest plan file, in bytes (1 MiB, the default `max_envelope_bytes`): the goal that
    /// starts a run carries the plan's text.
    public static let maxBytes = 1_048_576

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
            root = try yaml.compose(text, file: file)
        } catch {
            throw RoleError(.invalidPlan, error.message)
        }
        let reader = PlanReader(file: file, folder: FilePaths.folder(of: file))
        let read = try reader.read(root)
        try PlanChecks(read: read).check()
        return read.plan
    }

    /// How plan files are read: an alias error most often comes from an unquoted glob.
    static let yaml = YAMLText(aliasHint: "quote globs that start with * or &, such as \"**/*.swift\"")
}
