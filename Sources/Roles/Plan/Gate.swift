/// A check that must pass: a command run in the repository, which must exit 0 within its timeout
/// and leave its protected paths unchanged.
///
/// Gates fail closed: a command that cannot be started, a timeout, a non-zero exit or a changed
/// protected path all count as a failure.
public struct Gate: Sendable, Equatable, Hashable {
    /// How a gate's command is given.
    public enum Command: Sendable, Equatable, Hashable {
        /// A program and its arguments, run directly (a YAML list such as `[swift, test]`).
        case argv([String])
        /// A line of shell, run with `/bin/sh -c` (a YAML string such as `make lint`).
        case shell(String)

        /// The words to execute: the list itself, or `/bin/sh -c LINE`.
        public var arguments: [String] {
            switch self {
            case .argv(let words): return words
            case .shell(let line): return ["/bin/sh", "-c", line]
            }
        }
    }

    /// The default time a gate may run: 10 minutes.
    public static let defaultTimeout = Duration.seconds(600)

    /// The gate's name, unique within its list; a task gate with a plan gate's name replaces it.
    public var name: String
    /// The command to run in the repository.
    public var command: Command
    /// The longest the command may run before it is killed and the gate fails.
    public var timeout: Duration
    /// Paths and globs, relative to the repository, that the gate must leave unchanged.
    public var protects: [String]

    /// Creates a gate.
    ///
    /// - Parameters:
    ///   - name: The gate's name.
    ///   - command: The command to run.
    ///   - timeout: The longest the command may run; 10 minutes by default.
    ///   - protects: Globs of the paths the command must leave unchanged; none by default.
    public init(name: String, command: Command, timeout: Duration = Gate.defaultTimeout, protects: [String] = []) {
        self.name = name
        self.command = command
        self.timeout = timeout
        self.protects = protects
    }
}
