/// A plan: a goal split into tasks, each a change within a scope of a git repository that gates
/// check, with the risk that decides the stages the plan goes through.
///
/// Read one with ``PlanLoader``, which checks every field and the plan as a whole, and see the
/// order it runs in with ``PlanRoute``. `docs/PLAN.md` describes the file field by field.
public struct Plan: Sendable, Equatable, Hashable {
    /// The only version of the plan format.
    public static let currentVersion = 1
    /// The attempts a task gets by default: the first try and up to two re-verifications.
    public static let defaultMaxAttempts = 3
    /// The attempts a task may be given.
    public static let maxAttemptsRange = 1...20
    /// Task failures in a row that halt a run, by default.
    public static let defaultCircuitBreaker = 3
    /// The values `circuit_breaker` may take.
    public static let circuitBreakerRange = 1...100
    /// The candidates a task may have.
    public static let candidatesRange = 1...8

    /// The format version; always ``currentVersion``.
    public var version: Int
    /// The plan's name, one line.
    public var name: String
    /// What the plan is for, in a sentence or a few.
    public var goal: String
    /// The risk, which decides the stages.
    public var risk: PlanRisk
    /// The absolute path of the target git repository.
    public var repository: String
    /// The branch the run starts from, and the only one `planbus merge` changes.
    public var baseBranch: String
    /// The gates every task must pass (a task's own gates are added to these).
    public var gates: [Gate]
    /// The gates run once before any task starts; a failure halts the run.
    public var preflight: [Gate]
    /// The gates run once on the integration branch after all tasks.
    public var smoke: [Gate]
    /// The attempts each task gets: the first try plus up to `maxAttempts - 1` re-verifications.
    public var maxAttempts: Int
    /// The limits on each task's change, which a task's own budget overrides limit by limit.
    public var budget: PlanBudget
    /// Task failures in a row that halt the run (the circuit breaker).
    public var circuitBreaker: Int = Plan.defaultCircuitBreaker
    /// The limits on the whole run: all integrated changes together, and the attempts started.
    public var runBudget: RunBudget = RunBudget()
    /// The tasks, in file order.
    public var tasks: [PlanTask]
    /// The absolute path of the plan file.
    public var file: String

    /// Creates a plan. ``PlanLoader`` checks a plan; this initialiser does not.
    ///
    /// - Parameters:
    ///   - name: The plan's name.
    ///   - goal: What the plan is for.
    ///   - risk: The risk, which decides the stages.
    ///   - repository: The absolute path of the target git repository.
    ///   - baseBranch: The branch the run starts from; `main` by default.
    ///   - gates: The gates every task must pass.
    ///   - preflight: The gates run before any task.
    ///   - smoke: The gates run after all tasks.
    ///   - maxAttempts: The attempts each task gets; 3 by default.
    ///   - budget: The limits on each task's change.
    ///   - tasks: The tasks, in file order.
    ///   - file: The absolute path of the plan file.
    public init(
        name: String, goal: String, risk: PlanRisk, repository: String, baseBranch: String = "main",
        gates: [Gate] = [], preflight: [Gate] = [], smoke: [Gate] = [], maxAttempts: Int = Plan.defaultMaxAttempts,
        budget: PlanBudget = PlanBudget(), tasks: [PlanTask], file: String
    ) {
        self.version = Self.currentVersion
        self.name = name
        self.goal = goal
        self.risk = risk
        self.repository = repository
        self.baseBranch = baseBranch
        self.gates = gates
        self.preflight = preflight
        self.smoke = smoke
        self.maxAttempts = maxAttempts
        self.budget = budget
        self.tasks = tasks
        self.file = file
    }

    /// The task with `id`, if there is one.
    public func task(_ id: String) -> PlanTask? {
        tasks.first { $0.id == id }
    }

    /// The gates `task` must pass: the plan's gates in order, each replaced by the task's gate of
    /// the same name if it has one, followed by the task's other gates in order.
    ///
    /// - Parameter task: A task of this plan.
    /// - Returns: The gates, each name once.
    public func effectiveGates(for task: PlanTask) -> [Gate] {
        let own = Dictionary(task.gates.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let defaults = gates.map { own[$0.name] ?? $0 }
        let names = Set(gates.map(\.name))
        return defaults + task.gates.filter { !names.contains($0.name) }
    }

    /// The limits on `task`'s change: the plan's budget overridden by the task's.
    ///
    /// - Parameter task: A task of this plan.
    /// - Returns: The budget the verifier checks.
    public func effectiveBudget(for task: PlanTask) -> PlanBudget {
        budget.overriding(with: task.budget)
    }
}
