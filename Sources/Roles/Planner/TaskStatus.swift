import Bus

/// Where one task of a run stands, as the planner's fold sees it.
public enum TaskStatus: Sendable, Equatable {
    /// Waiting for its dependencies, or for an overlapping task to finish.
    case waiting
    /// A `build` for this attempt is out; its verdict has not come back.
    case building(attempt: Int)
    /// Approved and merged into the integration branch.
    case integrated(commit: String, attempts: Int)
    /// Rejected on its last allowed attempt.
    case failed(reason: String, attempts: Int)
    /// A dependency failed, so it will not be built.
    case blocked(by: String)

    /// The word `planbus status` shows.
    public var word: String {
        switch self {
        case .waiting: return "waiting"
        case .building: return "building"
        case .integrated: return "integrated"
        case .failed: return "failed"
        case .blocked: return "blocked"
        }
    }

    /// True once nothing more will happen to the task.
    public var isFinal: Bool {
        switch self {
        case .integrated, .failed, .blocked: return true
        case .waiting, .building: return false
        }
    }

    public var json: JSONValue {
        switch self {
        case .waiting: return ["state": "waiting"]
        case .building(let attempt): return ["state": "building", "attempt": .number(Double(attempt))]
        case .integrated(let commit, let attempts):
            return ["state": "integrated", "commit": .string(commit), "attempts": .number(Double(attempts))]
        case .failed(let reason, let attempts):
            return ["state": "failed", "reason": .string(reason), "attempts": .number(Double(attempts))]
        case .blocked(let by): return ["state": "blocked", "by": .string(by)]
        }
    }
}
