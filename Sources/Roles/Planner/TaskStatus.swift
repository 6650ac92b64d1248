import Bus

/// Where one task of a run stands, as the planner's fold sees it.
public enum TaskStatus: Sendable, Equatable {
    /// Waiting for its dependencies, or for an overlapping task to finish.
    case waiting
    /// The builds of this attempt (one per candidate) are out; their verdicts have not all come
    /// back.
    case building(attempt: Int)
    /// Every candidate of the attempt has been verified; the judge is picking one.
    case judging(attempt: Int)
    /// Verified (and judged); a person must approve it before integration.
    case awaitingApproval(attempt: Int, candidate: Int, commit: String)
    /// Approved; the verifier is merging it into the integration branch.
    case integrating(attempt: Int, candidate: Int, commit: String)
    /// Approved and merged into the integration branch.
    case integrated(commit: String, attempts: Int)
    /// Rejected on its last allowed attempt.
    case failed(reason: String, attempts: Int)
    /// A dependency failed, so it will not be built.
    case blocked(by: String)

    /// The word `planbus status` shows (`asking` is shown instead of `building` while a question
    /// of the task waits for a person; see ``RunState``).
    public var word: String {
        switch self {
        case .waiting: return "waiting"
        case .building: return "building"
        case .judging: return "judging"
        case .awaitingApproval: return "awaiting_approval"
        case .integrating: return "integrating"
        case .integrated: return "integrated"
        case .failed: return "failed"
        case .blocked: return "blocked"
        }
    }

    /// The attempt in progress, while one is.
    public var attempt: Int? {
        switch self {
        case .building(let a), .judging(let a), .awaitingApproval(let a, _, _), .integrating(let a, _, _): return a
        case .waiting, .integrated, .failed, .blocked: return nil
        }
    }

    /// True once nothing more will happen to the task.
    public var isFinal: Bool {
        switch self {
        case .integrated, .failed, .blocked: return true
        default: return false
        }
    }

    /// The task's fields in `status.json`: `state`, and `attempt`, `attempts`, `candidate`,
    /// `commit`, `reason` or `by` as they apply.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["state": .string(word)]
        switch self {
        case .waiting: break
        case .building(let attempt), .judging(let attempt): o["attempt"] = .number(Double(attempt))
        case .awaitingApproval(let attempt, let candidate, let commit),
            .integrating(let attempt, let candidate, let commit):
            o["attempt"] = .number(Double(attempt))
            o["candidate"] = .number(Double(candidate))
            o["commit"] = .string(commit)
        case .integrated(let commit, let attempts):
            o["commit"] = .string(commit)
            o["attempts"] = .number(Double(attempts))
        case .failed(let reason, let attempts):
            o["reason"] = .string(reason)
            o["attempts"] = .number(Double(attempts))
        case .blocked(let by): o["by"] = .string(by)
        }
        return .object(o)
    }
}
