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
///   later) to its claim;
/// - each `built`: published → claimed by the verifier (backlog), claimed → acked (verification
///   and integration, one handler);
/// - each `verdict`: published → claimed by the planner, claimed → acked (the planner's fold of
///   the run's history, then the new input).
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
    /// `built` published → verifier claim, per attempt.
    public var verifyWait = RunStat([])
    /// Verifier claim → ack, per attempt (verification and integration).
    public var verify = RunStat([])
    /// `verdict` published → planner claim.
    public var verdictWait = RunStat([])
    /// Planner claim → ack per verdict, in the order they were acked.
    public var plannerHandling: [Double] = []
    /// The last builder ack → the last planner ack: the tail after building.
    public var tail = 0.0
    /// The tail's parts, for the task whose verdict the planner acked last: its `built`'s wait for
    /// the verifier, its verification, its verdict's wait for the planner, the planner's handling.
    public var tailParts: (built: Double, verify: Double, verdict: Double, planner: Double) = (0, 0, 0, 0)
    /// The goal's publish → the last planner ack.
    public var journalSpan = 0.0
    /// The goal's publish time.
    public var goalPublished: Timestamp?

    /// The planner's handling of each verdict, as a summary.
    public var planner: RunStat { RunStat(plannerHandling) }

    /// An empty timeline (a run whose journal could not be read).
    public init() {}

    /// The lifetime of one envelope in one queue.
    struct Life {
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

        let built = all.filter { $0.kind == RunMessages.built }
        verifyWait = RunStat(built.compactMap { seconds($0.published, $0.claimed) })
        verify = RunStat(built.compactMap { seconds($0.claimed, $0.acked) })
        let verdicts = all.filter { $0.kind == RunMessages.verdict && $0.acked != nil }
            .sorted { $0.acked! < $1.acked! }
        verdictWait = RunStat(verdicts.compactMap { seconds($0.published, $0.claimed) })
        plannerHandling = verdicts.compactMap { seconds($0.claimed, $0.acked) }
        let lastPlannerAck = ([goal?.acked] + verdicts.map(\.acked)).compactMap { $0 }.max()
        tail = Swift.max(0, seconds(lastBuilderAck, lastPlannerAck) ?? 0)
        journalSpan = seconds(goal?.published, lastPlannerAck) ?? 0
        if let last = verdicts.last, let task = last.task,
            let lastBuilt = built.filter({ $0.task == task }).max(by: { ($0.acked ?? 0) < ($1.acked ?? 0) })
        {
            tailParts = (
                seconds(lastBuilt.published, lastBuilt.claimed) ?? 0, seconds(lastBuilt.claimed, lastBuilt.acked) ?? 0,
                seconds(last.published, last.claimed) ?? 0, seconds(last.claimed, last.acked) ?? 0
            )
        }
    }

    /// The mean planner handling of the first and the last `fraction` of the verdicts: how the
    /// cost of one input grows with the history the planner folds.
    public func plannerGrowth(fraction: Double = 0.1) -> (first: Double, last: Double) {
        let n = plannerHandling.count
        guard n > 0 else { return (0, 0) }
        let k = Swift.max(1, Int((Double(n) * fraction).rounded()))
        return (RunStat(Array(plannerHandling.prefix(k))).mean, RunStat(Array(plannerHandling.suffix(k))).mean)
    }

    /// The least-squares slope of the planner's handling time against the number of inputs acked
    /// before it, in seconds per input (0 with fewer than 2 verdicts).
    public var plannerSlope: Double {
        let n = plannerHandling.count
        guard n >= 2 else { return 0 }
        // Verdict i (from 0) follows the goal and i earlier verdicts: i + 1 inputs of history.
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
