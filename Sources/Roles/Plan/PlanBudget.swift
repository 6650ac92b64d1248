/// The most a task's change may touch: changed files and changed lines (added plus removed).
///
/// Each limit is optional; `nil` means no limit. A task's budget overrides the plan's limit by
/// limit, see ``overriding(with:)``.
public struct PlanBudget: Sendable, Equatable, Hashable {
    /// The most files the change may touch, or `nil` for no limit.
    public var files: Int?
    /// The most lines the change may add and remove together, or `nil` for no limit.
    public var lines: Int?

    /// Creates a budget.
    ///
    /// - Parameters:
    ///   - files: The most files the change may touch, or `nil` for no limit.
    ///   - lines: The most lines the change may add and remove together, or `nil` for no limit.
    public init(files: Int? = nil, lines: Int? = nil) {
        self.files = files
        self.lines = lines
    }

    /// True when neither limit is set.
    public var isUnlimited: Bool { files == nil && lines == nil }

    /// This budget with each limit that `other` sets replaced by `other`'s.
    ///
    /// - Parameter other: The overriding budget, usually a task's.
    /// - Returns: The combined budget.
    public func overriding(with other: PlanBudget) -> PlanBudget {
        PlanBudget(files: other.files ?? files, lines: other.lines ?? lines)
    }
}
