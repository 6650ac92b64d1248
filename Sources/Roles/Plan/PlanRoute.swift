/// The order a valid plan runs in: its stages, its tasks in waves, and each task's gates.
///
/// The stages follow the plan's risk (see ``stages(for:)``). The waves group the tasks so that
/// each task comes in a later wave than every task it depends on, and two tasks whose scopes may
/// overlap (see ``Glob/mayOverlap(_:)``) are never in the same wave. Within those rules each task
/// goes in the earliest wave it can, taking the tasks in dependency order with file order
/// breaking ties, so the same plan always gives the same waves.
///
/// `planbus submit --dry-run` prints ``text``, or ``json`` with `--json`.
public struct PlanRoute: Sendable, Equatable {
    /// A step of a run.
    public enum Stage: String, Sendable, Equatable, CaseIterable {
        /// The plan's preflight gates run once, before any task; a failure halts the run.
        case preflight
        /// High risk: the problem is explored before anything is specified.
        case discovery
        /// Medium and high risk: a tech spec is written before building.
        case spec
        /// Each task is built (by several candidates, and judged, when it has `candidates` > 1).
        case build
        /// Each built task is checked independently through its gates, scope and budget.
        case verify
        /// Each approved task is integrated into the run's integration branch.
        case integrate
        /// The plan's smoke gates run once on the integration branch, after all tasks.
        case smoke
        /// The changelog and the handoff report are written.
        case docs
    }

    /// How one task goes through the run.
    public struct TaskRoute: Sendable, Equatable {
        /// The task's id.
        public var id: String
        /// The task's title.
        public var title: String
        /// The wave the task is in, from 1.
        public var wave: Int
        /// The tasks it depends on.
        public var dependsOn: [String]
        /// The tasks whose scopes may overlap this one's and that no chain of dependencies orders
        /// with it; the waves keep them apart.
        public var overlapsWith: [String]
        /// The globs of the paths the task may change.
        public var scope: [String]
        /// The gates it must pass: the plan's, with the task's own replacing or added to them.
        public var gates: [Gate]
        /// The limits on its change: the plan's budget overridden by the task's.
        public var budget: PlanBudget
        /// How many candidates build it; more than one is a design competition.
        public var candidates: Int
        /// True when a person must approve it before integration.
        public var needsApproval: Bool
        /// True when it has no `run` step, so an agent must build it.
        public var needsAgent: Bool
    }

    /// The plan.
    public var plan: Plan
    /// The stages, in order.
    public var stages: [Stage]
    /// The task ids of each wave, in file order; wave 1 first.
    public var waves: [[String]]
    /// How each task goes through the run, in file order.
    public var tasks: [TaskRoute]

    /// Computes the route of `plan`.
    ///
    /// - Parameter plan: A plan as ``PlanLoader`` returns it: unique task ids, known dependencies
    ///   and no cycles. (For other plans the route is defined but meaningless: unknown
    ///   dependencies are ignored, and when every task left waits for another, the first of them
    ///   in file order is placed without waiting.)
    public init(plan: Plan) {
        self.plan = plan
        stages = Self.stages(for: plan.risk)
        let tasks = plan.tasks
        let overlap = Self.overlaps(of: tasks)
        let (wave, ancestors) = Self.waves(of: tasks, overlap: overlap)
        let count = wave.max() ?? 0
        waves = count == 0 ? [] : (1...count).map { w in tasks.indices.filter { wave[$0] == w }.map { tasks[$0].id } }
        self.tasks = tasks.indices.map { i in
            let task = tasks[i]
            let unordered = tasks.indices.filter {
                overlap[i][$0] && !ancestors[i].contains($0) && !ancestors[$0].contains(i)
            }
            return TaskRoute(
                id: task.id, title: task.title, wave: wave[i], dependsOn: task.dependsOn,
                overlapsWith: unordered.map { tasks[$0].id }, scope: task.scope,
                gates: plan.effectiveGates(for: task), budget: plan.effectiveBudget(for: task),
                candidates: task.candidates, needsApproval: task.needsApproval, needsAgent: task.needsAgent)
        }
    }

    /// For each pair of different tasks, whether their scopes may overlap.
    static func overlaps(of tasks: [PlanTask]) -> [[Bool]] {
        let globs = tasks.map { $0.scope.map(Glob.init) }
        var overlap = [[Bool]](repeating: [Bool](repeating: false, count: tasks.count), count: tasks.count)
        for i in tasks.indices {
            for j in tasks.indices where j > i {
                let meet = globs[i].contains { a in globs[j].contains { a.mayOverlap($0) } }
                overlap[i][j] = meet
                overlap[j][i] = meet
            }
        }
        return overlap
    }

    /// The stages of a plan of `risk`, in order.
    ///
    /// Every plan starts with ``Stage/preflight`` and ends with ``Stage/smoke`` and ``Stage/docs``.
    /// Between them, low risk goes build → verify → integrate; medium risk writes a spec first;
    /// high risk adds a discovery step before the spec.
    ///
    /// - Parameter risk: The plan's risk.
    /// - Returns: The stages.
    public static func stages(for risk: PlanRisk) -> [Stage] {
        let work: [Stage]
        switch risk {
        case .low: work = [.build, .verify, .integrate]
        case .medium: work = [.spec, .build, .verify, .integrate]
        case .high: work = [.discovery, .spec, .build, .verify, .integrate]
        }
        return [.preflight] + work + [.smoke, .docs]
    }

    /// The wave of each task (from 1), and for each task the set of tasks it depends on directly
    /// or through others.
    static func waves(of tasks: [PlanTask], overlap: [[Bool]]) -> (wave: [Int], ancestors: [Set<Int>]) {
        var index: [String: Int] = [:]
        for (i, task) in tasks.enumerated() where index[task.id] == nil { index[task.id] = i }
        let dependencies = tasks.map { $0.dependsOn.compactMap { index[$0] } }
        var wave = [Int](repeating: 0, count: tasks.count)
        var ancestors = [Set<Int>](repeating: [], count: tasks.count)
        var members: [Int: [Int]] = [:]
        var placed = [Bool](repeating: false, count: tasks.count)
        for _ in tasks.indices {
            // The first task in file order whose dependencies are all placed; with a cycle, the
            // first task not placed yet.
            let ready = tasks.indices.first { !placed[$0] && dependencies[$0].allSatisfy { placed[$0] } }
            guard let next = ready ?? tasks.indices.first(where: { !placed[$0] }) else { break }
            var w = 1
            for d in dependencies[next] where placed[d] {
                w = max(w, wave[d] + 1)
                ancestors[next].formUnion(ancestors[d])
                ancestors[next].insert(d)
            }
            while members[w, default: []].contains(where: { overlap[next][$0] }) { w += 1 }
            wave[next] = w
            members[w, default: []].append(next)
            placed[next] = true
        }
        return (wave, ancestors)
    }
}
