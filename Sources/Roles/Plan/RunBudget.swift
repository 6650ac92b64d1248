/// The most a whole run may spend: the files and lines of all its integrated changes together,
/// and the build attempts it may start (each candidate's build counts as one).
///
/// Each limit is optional; `nil` means no limit. The planner stops releasing work and halts the
/// run with the budget as its reason as soon as a limit is passed (integrated changes) or would be
/// passed (attempts). The plan's per-task ``PlanBudget`` is separate: the verifier checks that one
/// for each change.
public struct RunBudget: Sendable, Equatable, Hashable {
    /// The most files all integrated changes may touch together, or `nil` for no limit.
    public var files: Int?
    /// The most lines all integrated changes may add and remove together, or `nil` for no limit.
    public var lines: Int?
    /// The most build attempts the run may start, or `nil` for no limit.
    public var attempts: Int?

    /// Creates a run budget.
    ///
    /// - Parameters:
    ///   - files: The most files all integrated changes may touch, or `nil`.
    ///   - lines: The most lines all integrated changes may change, or `nil`.
    ///   - attempts: The most build attempts the run may start, or `nil`.
    public init(files: Int? = nil, lines: Int? = nil, attempts: Int? = nil) {
        self.files = files
        self.lines = lines
        self.attempts = attempts
    }

    /// True when no limit is set.
    public var isUnlimited: Bool { files == nil && lines == nil && attempts == nil }
}
