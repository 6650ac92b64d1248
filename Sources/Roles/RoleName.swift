import Bus

/// The product roles of planbus, each a separate process that talks only through the bus.
public enum RoleName: String, Sendable, CaseIterable {
    /// Turns a goal or plan into tasks and drives the run.
    case planner
    /// Makes each task's change in its own git worktree.
    case builder
    /// Checks a built change independently, through gates.
    case verifier
    /// Writes documentation and the handoff report.
    case docs
    /// Picks between competing candidates.
    case judge

    /// One line on what the role does, for help texts.
    public var summary: String {
        switch self {
        case .planner: return "turns a goal or plan into tasks and drives the run"
        case .builder: return "makes each task's change in its own git worktree"
        case .verifier: return "checks each built change independently through gates"
        case .docs: return "writes documentation and the handoff report"
        case .judge: return "picks between competing candidates"
        }
    }

    /// True when `name` is a product role; other valid role names are allowed on the bus too
    /// (custom and testing roles).
    public static func isProductRole(_ name: String) -> Bool { RoleName(rawValue: name) != nil }
}
