/// One task of a plan: a change to make within a scope, checked by gates.
///
/// A task with a ``run`` step is built offline by running that step; a task without one needs an
/// agent, which gets the ``prompt``.
public struct PlanTask: Sendable, Equatable, Hashable {
    /// The task's id, unique in the plan: a letter or digit, then up to 63 letters, digits, `_`
    /// and `-`.
    public var id: String
    /// A one-line summary, for status lines and the handoff.
    public var title: String
    /// The instruction for an agent.
    public var prompt: String
    /// Globs of the repository paths the change may touch; never empty.
    public var scope: [String]
    /// The ids of the tasks that must be integrated before this one starts, in file order.
    public var dependsOn: [String]
    /// The task's own gates, run after the plan's gates; one with a plan gate's name replaces it.
    public var gates: [Gate]
    /// Limits that override the plan's budget, limit by limit.
    public var budget: PlanBudget
    /// The shell step the offline builder runs, or `nil` when an agent builds the task.
    public var run: String?
    /// How many candidates build the task; more than one is a design competition the judge decides.
    public var candidates: Int
    /// True when a person must approve the task before it is integrated.
    public var needsApproval: Bool

    /// Creates a task.
    ///
    /// - Parameters:
    ///   - id: The task's id.
    ///   - title: A one-line summary.
    ///   - prompt: The instruction for an agent.
    ///   - scope: Globs of the paths the change may touch.
    ///   - dependsOn: The tasks that must be integrated first.
    ///   - gates: The task's own gates.
    ///   - budget: Limits that override the plan's.
    ///   - run: The offline builder's shell step.
    ///   - candidates: How many candidates build the task.
    ///   - needsApproval: Whether a person must approve the task before integration.
    public init(
        id: String, title: String, prompt: String, scope: [String], dependsOn: [String] = [], gates: [Gate] = [],
        budget: PlanBudget = PlanBudget(), run: String? = nil, candidates: Int = 1, needsApproval: Bool = false
    ) {
        self.id = id
        self.title = title
        self.prompt = prompt
        self.scope = scope
        self.dependsOn = dependsOn
        self.gates = gates
        self.budget = budget
        self.run = run
        self.candidates = candidates
        self.needsApproval = needsApproval
    }

    /// True when the task has no ``run`` step, so an agent must build it.
    public var needsAgent: Bool { run == nil }

    /// True when the task's scope may share a path with `other`'s (see ``Glob/mayOverlap(_:)``).
    public func scopeOverlaps(_ other: PlanTask) -> Bool {
        scope.contains { mine in other.scope.contains { Glob(mine).mayOverlap(Glob($0)) } }
    }
}
