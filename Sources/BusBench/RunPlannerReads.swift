import Bus
import Roles

/// What the planner reads for every input, timed once in the benchmark's own process after the
/// run, with the run's whole history on the bus: the run's journal (`JournalReader`), the
/// envelopes it acked (`RunMessages.taken`, from `q/planner/done/`), and the plan parsed from the
/// goal's text (`PlanLoader.parse`); and the fold: the run's state started from the plan, then
/// every acked input applied in order. Each the median of 3, in seconds.
///
/// The planner keeps no state between inputs: it does these reads and the fold for each input, so
/// they bound from below what one input of a run this size costs it at the end.
public struct RunPlannerReads: Sendable {
    /// Reading the run's journal.
    public var journal = 0.0
    /// Journal lines read.
    public var journalEvents = 0
    /// Reading the envelopes the planner acked for the run.
    public var done = 0.0
    /// Envelopes read.
    public var doneEnvelopes = 0
    /// Parsing the plan.
    public var planParse = 0.0
    /// Starting the run's state from the plan (`RunState.start()`: every task released).
    public var start = 0.0
    /// Applying every acked input after the goal to that state, in ack order.
    public var fold = 0.0

    /// Nothing measured.
    public init() {}

    /// Times the reads on `layout` for `run`.
    init(layout: BusLayout, run: String) {
        let clock = ContinuousClock()
        func median(_ body: () -> Void) -> Double {
            RunStat(
                (0..<3).map { _ in
                    let start = clock.now
                    body()
                    return (clock.now - start).seconds
                }
            ).median
        }
        var events = 0
        journal = median { events = JournalReader(layout: layout).events(run: run).count }
        journalEvents = events
        let kinds: Set<String> = [RunMessages.goal, RunMessages.verdict, RunMessages.documented]
        var taken: [Envelope] = []
        done = median { taken = RunMessages.taken(by: "planner", run: run, kinds: kinds, layout: layout) }
        doneEnvelopes = taken.count
        guard let goal = taken.first(where: { $0.kind == RunMessages.goal }),
            let text = goal.body["plan_text"]?.stringValue, let file = goal.body["plan_file"]?.stringValue
        else { return }
        planParse = median { _ = try? PlanLoader.parse(text, file: file) }
        guard let plan = try? PlanLoader.parse(text, file: file) else { return }
        start = median {
            var state = RunState(run: run, plan: plan)
            _ = state.start()
        }
        var begun = RunState(run: run, plan: plan)
        _ = begun.start()
        let acked = JournalReader(layout: layout).events(run: run).filter { $0.role == "planner" && $0.event == .ack }
        var order: [String: Int] = [:]
        for event in acked where order[event.id] == nil { order[event.id] = order.count }
        let inputs = taken.filter { $0.kind != RunMessages.goal }.sorted {
            (order[$0.id] ?? .max) < (order[$1.id] ?? .max)
        }
        .compactMap(RunInput.init)
        fold = median {
            var state = begun
            for input in inputs { _ = state.apply(input) }
        }
    }

    /// `{journal_ms, journal_events, done_ms, done_envelopes, plan_parse_ms, start_ms, fold_ms}`.
    public var json: JSONValue {
        [
            "journal_ms": rounded(journal * 1000, 1), "journal_events": .number(Double(journalEvents)),
            "done_ms": rounded(done * 1000, 1), "done_envelopes": .number(Double(doneEnvelopes)),
            "plan_parse_ms": rounded(planParse * 1000, 1), "start_ms": rounded(start * 1000, 1),
            "fold_ms": rounded(fold * 1000, 1),
        ]
    }
}
