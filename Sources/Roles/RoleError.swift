/// The one error type of the `Roles` module: a plan file that cannot be read or is not a valid
/// plan, or a git command that failed.
///
/// The ``message`` of an ``Code/invalidPlan`` error names the place and the field when one applies,
/// in the form `FILE:LINE:COLUMN: FIELD: what is wrong (what is expected)`, for example
/// `/home/ana/shop/plan.yaml:14:17: tasks[2].depends_on[0]: unknown task "bulid"; did you mean "build"?`.
public struct RoleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, broadly.
    public enum Code: String, Sendable, Equatable {
        /// The plan is not valid: a YAML error, a wrong field or value, or a check across fields.
        case invalidPlan
        /// There is no file at the path given.
        case notFound
        /// The file could not be read.
        case io
        /// A git command failed; the message carries git's own words.
        case git
        /// An envelope's body lacks a field a role needs, or has it of the wrong type.
        case invalidRequest
    }

    /// The broad kind of failure.
    public var code: Code
    /// What is wrong, where, and what is expected.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
