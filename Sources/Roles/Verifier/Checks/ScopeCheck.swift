/// Checks that a change stays within its task's scope: every changed path (added, modified or
/// deleted) must match at least one of the scope's globs.
public struct ScopeCheck: Sendable {
    /// The most paths reported one by one; the rest are counted in a last finding.
    public static let findingLimit = 50

    /// The task's scope globs, as written.
    public let scope: [String]
    private let globs: [Glob]

    /// Creates the check.
    ///
    /// - Parameter scope: The task's scope globs (see ``Glob``); an empty scope allows nothing.
    public init(scope: [String]) {
        self.scope = scope
        globs = scope.map(Glob.init)
    }

    /// The paths no scope glob matches, in the order given.
    ///
    /// - Parameter paths: Changed paths, relative to the repository.
    public func outside(_ paths: [String]) -> [String] {
        paths.filter { path in !globs.contains { $0.matches(path) } }
    }

    /// One finding per changed path outside the scope (the first ``findingLimit``, then one
    /// that counts the rest); none when the change is within the scope.
    ///
    /// - Parameter diff: The change.
    public func findings(for diff: DiffSummary) -> [Finding] {
        let offending = outside(diff.paths)
        let allowed = scope.isEmpty ? "the task's scope is empty" : "the task's scope is \(CheckText.list(scope))"
        var findings = offending.prefix(Self.findingLimit).map { path in
            Finding(.scope, "\(path) is outside the task's scope (\(allowed))")
        }
        if offending.count > Self.findingLimit {
            findings.append(
                Finding(
                    .scope,
                    "and \(CheckText.count(offending.count - Self.findingLimit, "more path")) outside the task's scope"
                        + " (\(offending.count) in all)"))
        }
        return findings
    }
}
