import Bus
import Roles

/// Where the time of one benchmark run went, read from the run's journal alone.
///
/// Every figure comes from the `publish`, `claim` and `ack` lines the roles wrote (millisecond
/// wall-clock times of one host), and from the step times the builder wrote in each attempt's
/// `builder.log`:
/// - the goal: published → claimed by the planner (wake), claimed → acked (handling: the plan
///   parsed, the integration branch made, every build released);
/// - each build: its builder's claim → ack (wall) against the step alone; and the hand-off gap,
///   from when the build could have been taken (its publish, or its builder's previous ack, the
///   later) to its claim: negative when the builder took it before it acked its previous build,
///   whose commit and report then overlapped it (`BusWorker.allowNextClaim()`);
/// - every queue and envelope kind (``stages``): published → claimed (wait), claimed → acked
///   (handling). The verifier's `built` is verification and integration in one handler; the
///   planner's inputs after the goal (verdicts, and the docs role's `documented` answers) each
///   fold the run's history before they are applied;
/// - the tail after the last build, step by step for the task the planner heard of last.
public struct RunTimeline: Sendable {
    /// The goal's publish → planner claim, in seconds.
    public var goalWait = 0.0
    /// The planner's claim → ack of the goal.
    public var goalHandling = 0.0
    /// Builder claim → ack, per build.
    public var builderWall = RunStat([])
    /// The step alone, per build whose `builder.log` gave both times.
    public var builderStep = RunStat([])
    /// Builder wall − step, per build whose step time is known.
    public var builderOverhead = RunStat([])
    /// Per build: claim − max(publish, the same builder's previous ack).
    public var handoff = RunStat([])
    /// Goal acked → the first builder claim.
    public var firstClaim = 0.0
    /// Goal acked → the last builder ack: the build phase.
    public var buildPhase = 0.0
    /// Verifier claim → ack per `built` (verification and integration).
    public var verify = RunStat([])
    /// Wait and handling per queue and envelope kind, in the order each first appeared.
    public var stages: [RunStageTime] = []
    /// Planner claim → ack per input after the goal (verdicts, `documented`, …), in the order
    /// they were acked.
    public var plannerHandling: [Double] = []
    /// The last builder ack → the last planner ack: the tail after building.
    public var tail = 0.0
    /// The tail's steps: every envelope of the task the planner acked an input of last, published
    /// after its last build was claimed, in the order published (wait and handling each).
    public var tailSteps: [RunStageTime] = []
    /// The goal's publish → the last planner ack.
    public var journalSpan = 0.0
    /// The goal's publish time.
    public var goalPublished: Timestamp?

    /// The planner's handling of each input after the goal, as a summary.
    public var planner: RunStat { RunStat(plannerHandling) }

    /// An empty timeline (a run whose journal could not be read).
    public init() {}

    /// The lifetime of one envelope in one queue.
    struct Life {
        var role: String?
        var kind: String?
        var task: String?
        var published: Int64?
        var claimed: Int64?
        var acked: Int64?
        var worker: String?
    }

    /// Reads the events of one run.
    /// - Parameters:
    ///   - events: the run's journal events, in any order.
    ///   - steps: per task, the step's seconds (from `builder.log`), where known.
    public init(events: [JournalEvent], steps: [String: Double]) {
        var lives: [String: Life] = [:]
        for event in events.sorted(by: { $0.time < $1.time }) {
            let key = event.role + "/" + event.id
            var life = lives[key] ?? Life()
            life.role = event.role
            life.kind = life.kind ?? event.kind
            life.task = life.task ?? event.task
            let ms = event.time.milliseconds
            switch event.event {
            case .publish: life.published = life.published ?? ms
            case .claim: life.claimed = ms
            case .ack:
                life.acked = ms
                life.worker = event.worker
            default: break
            }
            lives[key] = life
        }
        let all = Array(lives.values)
        func seconds(_ from: Int64?, _ to: Int64?) -> Double? {
            guard let from, let to else { return nil }
            return Double(to - from) / 1000
        }
        let goal = all.first { $0.kind == RunMessages.goal }
        goalPublished = goal?.published.map(Timestamp.init(milliseconds:))
        goalWait = seconds(goal?.published, goal?.claimed) ?? 0
        goalHandling = seconds(goal?.claimed, goal?.acked) ?? 0

        let builds = all.filter { $0.kind == RunMessages.build && $0.claimed != nil && $0.acked != nil }
        builderWall = RunStat(builds.compactMap { seconds($0.claimed, $0.acked) })
        var stepTimes: [Double] = []
        var overheads: [Double] = []
        for build in builds {
            guard let task = build.task, let step = steps[task], let wall = seconds(build.claimed, build.acked) else {
                continue
            }
            stepTimes.append(step)
            overheads.append(wall - step)
        }
        builderStep = RunStat(stepTimes)
        builderOverhead = RunStat(overheads)
        var gaps: [Double] = []
        for (_, mine) in Dictionary(grouping: builds, by: { $0.worker ?? "" }) {
            var previousAck: Int64?
            for build in mine.sorted(by: { $0.claimed! < $1.claimed! }) {
                let ready = Swift.max(build.published ?? build.claimed!, previousAck ?? Int64.min)
                gaps.append(Double(build.claimed! - ready) / 1000)
                previousAck = build.acked
            }
        }
        handoff = RunStat(gaps)
        let lastBuilderAck = builds.compactMap(\.acked).max()
        firstClaim = seconds(goal?.acked, builds.compactMap(\.claimed).min()) ?? 0
        buildPhase = seconds(goal?.acked, lastBuilderAck) ?? 0

        let ordered = all.sorted { ($0.published ?? $0.claimed ?? 0) < ($1.published ?? $1.claimed ?? 0) }
        var stageOrder: [String] = []
        var grouped: [String: [Life]] = [:]
        for life in ordered where life.kind != RunMessages.build {
            let key = (life.role ?? "?") + "/" + (life.kind ?? "?")
            if grouped[key] == nil { stageOrder.append(key) }
            grouped[key, default: []].append(life)
        }
        stages = stageOrder.map { key in Self.stage(key, grouped[key] ?? []) }
        verify = RunStat(
            all.filter { $0.role == "verifier" && $0.kind == RunMessages.built }.compactMap {
                seconds($0.claimed, $0.acked)
            })
        let plannerInputs = all.filter { $0.role == "planner" && $0.kind != RunMessages.goal && $0.acked != nil }
            .sorted { $0.acked! < $1.acked! }
        plannerHandling = plannerInputs.compactMap { seconds($0.claimed, $0.acked) }
        let lastPlannerAck = ([goal?.acked] + plannerInputs.map(\.acked)).compactMap { $0 }.max()
        tail = Swift.max(0, seconds(lastBuilderAck, lastPlannerAck) ?? 0)
        journalSpan = seconds(goal?.published, lastPlannerAck) ?? 0
        if let task = plannerInputs.last?.task {
            let claimed = builds.filter { $0.task == task }.compactMap(\.claimed).max() ?? Int64.min
            tailSteps = ordered.filter {
                $0.task == task && $0.kind != RunMessages.build && ($0.published ?? 0) >= claimed
            }
            .map { Self.stage(($0.role ?? "?") + "/" + ($0.kind ?? "?"), [$0]) }
        }
    }

    /// The stage `key` (`role/kind`) of `lives`.
    private static func stage(_ key: String, _ lives: [Life]) -> RunStageTime {
        func seconds(_ from: Int64?, _ to: Int64?) -> Double? {
            guard let from, let to else { return nil }
            return Double(to - from) / 1000
        }
        return RunStageTime(
            name: key, wait: RunStat(lives.compactMap { seconds($0.published, $0.claimed) }),
            handling: RunStat(lives.compactMap { seconds($0.claimed, $0.acked) }))
    }

    /// The stage `role/kind`, if the run had one.
    public func stage(_ name: String) -> RunStageTime? { stages.first { $0.name == name } }

    /// The mean planner handling of the first and the last `fraction` of its inputs: how the
    /// cost of one input grows with the history the planner folds.
    public func plannerGrowth(fraction: Double = 0.1) -> (first: Double, last: Double) {
        let n = plannerHandling.count
        guard n > 0 else { return (0, 0) }
        let k = Swift.max(1, Int((Double(n) * fraction).rounded()))
        return (RunStat(Array(plannerHandling.prefix(k))).mean, RunStat(Array(plannerHandling.suffix(k))).mean)
    }

    /// The least-squares slope of the planner's handling time against the number of inputs acked
    /// before it, in seconds per input (0 with fewer than 2 inputs).
    public var plannerSlope: Double {
        let n = plannerHandling.count
        guard n >= 2 else { return 0 }
        // Input i (from 0) follows the goal and i earlier inputs: i + 1 inputs of history.
        let xs = (0..<n).map { Double($0 + 1) }
        let meanX = xs.reduce(0, +) / Double(n)
        let meanY = plannerHandling.reduce(0, +) / Double(n)
        var num = 0.0
        var den = 0.0
        for (x, y) in zip(xs, plannerHandling) {
            num += (x - meanX) * (y - meanY)
            den += (x - meanX) * (x - meanX)
        }
        return den > 0 ? num / den : 0
    }
}
