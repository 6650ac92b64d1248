/// Checks the size of a change against a budget: the files it touches and its changed lines
/// (insertions plus deletions; a binary file counts as a file with no lines).
public struct BudgetCheck: Sendable {
    /// The limits; `nil` limits are not checked.
    public let budget: PlanBudget

    /// Creates the check.
    ///
    /// - Parameter budget: The task's effective budget.
    public init(budget: PlanBudget) {
        self.budget = budget
    }

    /// A finding for each limit the change exceeds, saying the numbers; none within budget.
    ///
    /// - Parameter diff: The change.
    public func findings(for diff: DiffSummary) -> [Finding] {
        var findings: [Finding] = []
        if let files = budget.files, diff.files.count > files {
            findings.append(
                Finding(
                    .budget,
                    "the change touches \(CheckText.count(diff.files.count, "file")), over the budget of "
                        + "\(CheckText.count(files, "file")) (\(diff.files.count - files) too many)"))
        }
        if let lines = budget.lines, diff.lines > lines {
            findings.append(
                Finding(
                    .budget,
                    "the change has \(CheckText.count(diff.lines, "changed line")) (\(diff.insertions) added, "
                        + "\(diff.deletions) deleted), over the budget of \(CheckText.count(lines, "line")) "
                        + "(\(diff.lines - lines) too many)"))
        }
        return findings
    }
}
