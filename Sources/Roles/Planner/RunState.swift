import Bus

/// The state of one run, folded from the envelopes the planner has taken for it, in the order it
/// acked them: the `goal` (``start()``), then each ``RunInput`` (``apply(_:)``).
///
/// Folding is deterministic, and each step returns the ``RunAction``s it decided, so after any
/// crash the planner rebuilds the same state from the bus alone; a replayed input decides the
/// same actions again, and their envelopes get the same ids, which the bus drops as duplicates.
public struct RunState: Sendable, Equatable {
    /// The outcome of the preflight or smoke gates.
    public struct CheckResult: Sendable, Equatable {
        public var passed: Bool
        public var summary: String
    }

    /// A question a task's step asked, waiting for a person.
    public struct PendingQuestion: Sendable, Equatable {
        /// The id of the `question` envelope people answer.
        public var id: String
        public var attempt: Int
        public var text: String
    }

    /// What the run has spent, for its ``RunBudget``.
    public struct Spent: Sendable, Equatable {
        /// Build attempts started (each candidate's build counts as one).
        public var attempts = 0
        /// Files and lines of the integrated changes, added up.
        public var files = 0
        public var lines = 0
    }

    public let run: String
    /// The plan: the submitted or drafted one, with the follow-up tasks added since.
    public internal(set) var plan: Plan
    /// The stage the run is in.
    public internal(set) var stage: RunStage = .preflight
    public internal(set) var tasks: [String: TaskStatus]
    /// The reasons of each task's last rejection.
    public internal(set) var feedback: [String: String] = [:]
    /// The verified candidates of each task's attempt in progress, by candidate number.
    public internal(set) var candidates: [String: [Int: RunInput.Verdict]] = [:]
    /// The questions waiting for a person, by task, then candidate.
    public internal(set) var questions: [String: [Int: PendingQuestion]] = [:]
    /// The questions each task's steps asked and their answers, oldest first.
    public internal(set) var answers: [String: [RunAction.QuestionAndAnswer]] = [:]
    /// The judge's reasons for each judged task.
    public internal(set) var judgments: [String: String] = [:]
    /// Who approved or rejected each task, and why.
    public internal(set) var decisions: [String: String] = [:]
    /// The integrated tasks whose changelog entry is written.
    public internal(set) var documented: Set<String> = []
    public internal(set) var consecutiveFailures = 0
    /// Why the run stopped releasing work, if it did.
    public internal(set) var halted: String?
    public internal(set) var preflight: CheckResult?
    public internal(set) var smoke: CheckResult?
    public internal(set) var spent = Spent()
    /// What the run's agent calls have cost so far (``spend(_:)``).
    public internal(set) var cost = RunCost()
    /// The cost limits that halt the run.
    public var costLimits = CostLimits()
    /// True when the builder drives an agent: a follow-up without a `run` step can be built.
    public var builderAgent = false
    /// The run's intent file (`runs/<run>/INTENT.md`), when people answered questions about the goal.
    public var intent: String?
    /// The run's tech spec, when it was written before the plan (a free-text goal): the spec stage
    /// is then skipped.
    public var writtenSpec: String?
    /// The task each follow-up task came from, by follow-up id.
    public internal(set) var followupOf: [String: String] = [:]
    /// The follow-ups that were not added, and why.
    public internal(set) var droppedFollowups: [String] = []
    /// The dead letters of the run the planner took, oldest first, with what each did.
    public internal(set) var deadLetters: [DeadLetterOutcome] = []
    /// The integrated tasks whose changelog envelope was dead-lettered: the run does not wait
    /// for their entry.
    public internal(set) var lostChangelogs: Set<String> = []
    /// The paths a follow-up task may be given (``ScopeLimit``): a follow-up whose scope escapes
    /// it is not added.
    public var scopeLimit = ScopeLimit.none

    /// A run that has just received its goal; ``start()`` begins it.
    public init(run: String, plan: Plan) {
        self.run = run
        self.plan = plan
        self.tasks = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.id, TaskStatus.waiting) })
    }

    /// Begins the run: the preflight gates if the plan has any, else the first stage its risk
    /// calls for (discovery, spec, or building).
    public mutating func start() -> [RunAction] {
        if !plan.preflight.isEmpty {
            stage = .preflight
            return [.check(.preflight)]
        }
        return enter(RunStage.first(after: plan.risk)) + wrapUp()
    }

    /// Applies one input and returns what to send in answer. An input that does not fit the
    /// run's state (a late duplicate, a verdict on an attempt no longer in flight, anything after
    /// the run finished) changes nothing and returns nothing.
    public mutating func apply(_ input: RunInput) -> [RunAction] {
        // A finished run stays as its handoff describes it: a late answer or decision (to a
        // request left pending when the run halted) changes nothing.
        guard stage != .done else { return [] }
        var out: [RunAction] = []
        switch input {
        case .stageDone(let done):
            guard stage == done, halted == nil else { return [] }
            out = enter(done == .discovery ? .spec : .build)
        case .checked(let checked, let passed, let summary):
            guard stage == checked else { return [] }
            let result = CheckResult(passed: passed, summary: summary)
            if checked == .preflight {
                preflight = result
                if passed {
                    out = enter(RunStage.first(after: plan.risk))
                } else {
                    halted = "preflight failed: \(summary)"
                }
            } else if checked == .smoke {
                smoke = result
            }
        case .verdict(let verdict): out = apply(verdict)
        case .judgment(let task, let attempt, let winner, let reasons):
            out = judged(task, attempt: attempt, winner: winner, reasons: reasons)
        case .decision(let task, let attempt, let approved, let by, let reason):
            out = decided(task, attempt: attempt, approved: approved, by: by, reason: reason)
        case .question(let task, let attempt, let candidate, let id, let text):
            out = asked(task, attempt: attempt, candidate: candidate, id: id, text: text)
        case .answer(let task, let attempt, let id, _, let answer):
            out = answered(task, attempt: attempt, questionID: id, answer: answer)
        case .documented(let task):
            if case .integrated = tasks[task] { documented.insert(task) }
        case .stageFailed(let failed, let reason):
            guard stage == failed else { return [] }
            halt(reason)
        case .deadLetter(let notice): out = deadLettered(notice)
        }
        return out + release() + wrapUp()
    }

    /// Adds the `usage` records of an input to the run's cost, and halts the run when it costs
    /// more than ``costLimits`` allow.
    public mutating func spend(_ usage: JSONValue?) {
        cost.add(usage)
        guard stage != .done, let why = cost.exceeded(costLimits) else { return }
        halt(why)
    }

    /// What every input brings besides its kind's meaning: its agent calls' cost (`usage`, and the
    /// `relayed_usage` the verifier copies from the builds and a split review's judgment, which
    /// the planner does not take), and the follow-ups a verdict or judgment proposes.
    public mutating func account(_ input: Envelope) {
        spend(input.body["usage"])
        spend(input.body["relayed_usage"])
        followUp(input)
    }

    /// Adds what was spent before the run had its plan (the planner's calls for a free-text goal).
    public mutating func carry(_ earlier: RunCost) {
        cost.add(earlier)
        guard let why = cost.exceeded(costLimits) else { return }
        halt(why)
    }

    /// What follows when an input changed nothing but the run's cost: the release of work, or the
    /// end of a halted run.
    public mutating func settle() -> [RunAction] {
        guard stage != .done else { return [] }
        return release() + wrapUp()
    }

    /// True once the run has finished: every task settled (or the run halted with nothing in
    /// flight), the changelog written, and the smoke gates run.
    public var isFinished: Bool { stage == .done }

    /// Enters a stage and returns what it starts with.
    mutating func enter(_ next: RunStage) -> [RunAction] {
        stage = next
        switch next {
        case .spec where writtenSpec != nil: return enter(.build)
        case .discovery, .spec: return [.stage(next)]
        case .build: return release()
        case .preflight, .smoke, .done: return []
        }
    }

    /// Ends the run when nothing more can happen: the smoke gates first, when the plan has them
    /// and something was integrated; then `run_finished`.
    mutating func wrapUp() -> [RunAction] {
        switch stage {
        case .done: return []
        case .smoke:
            guard smoke != nil else { return [] }
        case .preflight, .discovery, .spec:
            guard halted != nil else { return [] }
        case .build:
            guard tasks.values.allSatisfy(\.isFinal) || (halted != nil && !hasWorkInFlight) else { return [] }
            let integrated = plan.tasks.filter { if case .integrated = tasks[$0.id] { true } else { false } }
            guard integrated.allSatisfy({ documented.contains($0.id) || lostChangelogs.contains($0.id) }) else {
                return []
            }
            if halted == nil, !plan.smoke.isEmpty, !integrated.isEmpty {
                stage = .smoke
                return [.check(.smoke)]
            }
        }
        stage = .done
        return [.finish]
    }

    /// True while a role is working on the run: a build or verification out, a judgment, an
    /// integration, or the preflight or smoke gates.
    public var hasWorkInFlight: Bool {
        if stage == .preflight || stage == .smoke || stage == .discovery || stage == .spec { return true }
        return plan.tasks.contains { task in
            switch tasks[task.id] {
            case .building:
                let settled = Set((candidates[task.id] ?? [:]).keys).union((questions[task.id] ?? [:]).keys)
                return settled.count < task.candidates
            case .judging, .integrating: return true
            default: return false
            }
        }
    }

    /// Why the run is waiting for a person, when nothing else can move it: the questions waiting
    /// for an answer and the tasks waiting for approval. `nil` while work is in flight.
    public var waitingOnPeople: String? {
        guard stage == .build, halted == nil, !hasWorkInFlight else { return nil }
        var parts: [String] = []
        for task in plan.tasks {
            for (_, q) in (questions[task.id] ?? [:]).sorted(by: { $0.key < $1.key }) {
                parts.append("question \(q.id) on task \(task.id) (planbus answer \(q.id) TEXT)")
            }
            if case .awaitingApproval = tasks[task.id] {
                parts.append("approval of task \(task.id) (planbus approve \(run) \(task.id), or reject)")
            }
        }
        return parts.isEmpty ? nil : "waiting on a person: " + parts.joined(separator: "; ")
    }
}
