import Bus

/// The state of one run, folded from the envelopes the planner has taken for it, in the order it
/// acked them: the `goal`, then each `verdict`.
///
/// Folding is deterministic, so after any crash the planner rebuilds the same state from the bus
/// alone. ``release()`` decides which tasks to build next; it is part of the fold, so a replayed
/// input releases the same builds again (with the same envelope ids, which the bus drops as
/// duplicates).
public struct RunState: Sendable, Equatable {
    /// A build to send: a task and its attempt, with the feedback of the previous attempt.
    public struct Release: Sendable, Equatable {
        public var task: String
        public var attempt: Int
        public var feedback: String?

        public init(task: String, attempt: Int, feedback: String?) {
            self.task = task
            self.attempt = attempt
            self.feedback = feedback
        }
    }

    /// Task failures in a row that halt the run.
    public static let circuitBreaker = 3

    public let run: String
    public let plan: Plan
    public private(set) var tasks: [String: TaskStatus]
    /// The reasons of each task's last rejection.
    public private(set) var feedback: [String: String] = [:]
    public private(set) var consecutiveFailures = 0
    /// Why the run stopped releasing work, if it did.
    public private(set) var halted: String?

    /// A run that has just received its goal.
    public init(run: String, plan: Plan) {
        self.run = run
        self.plan = plan
        self.tasks = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.id, TaskStatus.waiting) })
    }

    /// True when every task is integrated, failed or blocked, or the run is halted with nothing
    /// in flight.
    public var isFinished: Bool {
        let inFlight = tasks.values.contains { if case .building = $0 { return true } else { return false } }
        return tasks.values.allSatisfy(\.isFinal) || (halted != nil && !inFlight)
    }

    /// Applies a verifier's verdict on one attempt; a verdict on an attempt that is not the one
    /// in flight (a late duplicate) changes nothing.
    /// - Returns: whether it applied.
    @discardableResult
    public mutating func apply(
        verdictOn task: String, attempt: Int, approved: Bool, integrated: String?, feedback text: String
    )
        -> Bool
    {
        guard case .building(let current) = tasks[task], current == attempt else { return false }
        if approved, let commit = integrated {
            tasks[task] = .integrated(commit: commit, attempts: attempt)
            consecutiveFailures = 0
            return true
        }
        feedback[task] = text
        if attempt < plan.maxAttempts {
            tasks[task] = .building(attempt: attempt + 1)
            pendingRetries.append(Release(task: task, attempt: attempt + 1, feedback: text))
            return true
        }
        tasks[task] = .failed(reason: text, attempts: attempt)
        consecutiveFailures += 1
        block(dependentsOf: task)
        if consecutiveFailures >= Self.circuitBreaker {
            halted = "circuit breaker: \(consecutiveFailures) task failures in a row"
        }
        return true
    }

    private var pendingRetries: [Release] = []

    /// The builds to send now: retries decided by the last verdict, then every waiting task whose
    /// dependencies are integrated and whose scope overlaps no task being built (file order).
    public mutating func release() -> [Release] {
        var out = pendingRetries
        pendingRetries = []
        guard halted == nil else { return out }
        for task in plan.tasks where tasks[task.id] == .waiting {
            let ready = task.dependsOn.allSatisfy { dep in
                if case .integrated = tasks[dep] { return true } else { return false }
            }
            guard ready else { continue }
            let clash = plan.tasks.contains { other in
                guard other.id != task.id, case .building = tasks[other.id] else { return false }
                return task.scopeOverlaps(other)
            }
            if clash { continue }
            tasks[task.id] = .building(attempt: 1)
            out.append(Release(task: task.id, attempt: 1, feedback: nil))
        }
        return out
    }

    private mutating func block(dependentsOf failed: String) {
        var changed = true
        while changed {
            changed = false
            for task in plan.tasks where tasks[task.id] == .waiting {
                let culprit = task.dependsOn.first { dep in
                    switch tasks[dep] {
                    case .failed, .blocked: return true
                    default: return false
                    }
                }
                if let culprit {
                    tasks[task.id] = .blocked(by: culprit)
                    changed = true
                }
            }
        }
    }

    /// The state as `runs/<run>/status.json` holds it.
    public var json: JSONValue {
        .object([
            "run": .string(run), "plan": .string(plan.name), "finished": .bool(isFinished),
            "halted": halted.map(JSONValue.string) ?? .null,
            "tasks": .array(
                plan.tasks.map { task in
                    var o = (tasks[task.id] ?? .waiting).json.objectValue ?? [:]
                    o["id"] = .string(task.id)
                    o["title"] = .string(task.title)
                    if let f = feedback[task.id] { o["last_feedback"] = .string(f) }
                    return .object(o)
                }),
        ])
    }
}
