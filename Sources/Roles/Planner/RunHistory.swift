import Bus
import Foundation
import Synchronization

/// The inputs the planner has acked for one run, in the order it acked them, read back from the
/// bus: the journal's `ack` lines of the planner's queue give the order, and `q/planner/done/`
/// gives each envelope whole.
struct RunHistory {
    let layout: BusLayout
    let run: String
    /// What this process has already read; the bus stays the truth.
    let memory: Memory

    /// What the planner process remembers between envelopes to read histories faster: the
    /// envelopes of its `done/` folder by path (they never change), and for each run the order of
    /// the acks read from the journal so far with the byte offsets read up to (the journal is only
    /// appended to).
    final class Memory: Sendable {
        let done = EnvelopeCache()
        private let journals = Mutex<[String: (offsets: [String: Int], acks: [String])]>([:])
        private let folds = Mutex<[String: Fold]>([:])

        /// A run's state after folding the inputs with these ids, in this order.
        struct Fold {
            var ids: [String]
            var fold: RunFold
        }

        /// The state last folded for `run`, if any.
        func fold(run: String) -> Fold? { folds.withLock { $0[run] } }

        /// Remembers the state after folding `ids` (the last one being the input just handled; if
        /// its ack does not happen, the next history will not start with `ids`, and the planner
        /// folds from the start).
        func remember(run: String, ids: [String], fold: RunFold) {
            folds.withLock { $0[run] = Fold(ids: ids, fold: fold) }
        }

        /// The ids of the envelopes the planner acked in `run`, in the order of their ack times
        /// (repeats kept), reading only what was appended since the last call. Each planner
        /// process writes its own journal file, so lines are ordered by their time, not by file:
        /// what a restarted planner acked comes after what its predecessor acked.
        func acks(run: String, layout: BusLayout) -> [String] {
            var known = journals.withLock { $0[run] } ?? (offsets: [:], acks: [])
            let fresh = JournalReader(layout: layout).newEvents(run: run, offsets: &known.offsets)
            let acked = fresh.enumerated().filter { $0.element.event == .ack && $0.element.role == "planner" }
            known.acks += acked.sorted { a, b in
                a.element.time.milliseconds != b.element.time.milliseconds
                    ? a.element.time.milliseconds < b.element.time.milliseconds : a.offset < b.offset
            }.map(\.element.id)
            journals.withLock { $0[run] = known }
            return known.acks
        }

        /// Places acked envelopes that no journal line lists after the acks read so far, where
        /// ``acks(run:layout:)`` keeps them: one whose holder was killed between the ack's rename
        /// and its journal line never gets a line, and at the end of every history it would change
        /// the order of the inputs at each new ack, so the fold could never be resumed.
        func place(run: String, ids: [String]) {
            journals.withLock { journals in
                var known = journals[run] ?? (offsets: [:], acks: [])
                known.acks += ids
                journals[run] = known
            }
        }
    }

    /// The acked envelopes of the run (its `goal` and every ``RunInput``), oldest first: the goal,
    /// then in the order of the journal's `ack` lines, with any acked envelope the journal does
    /// not list (the ack's rename happened, its journal line did not: a crash in between) after
    /// the lines this process had read when it first found it, in id order. The plan `goal` the planner drafted for a free-text goal (body `from_goal`) is an
    /// input like the others, in its place.
    func inputs() -> [Envelope] {
        var position: [String: Int] = [:]
        for id in memory.acks(run: run, layout: layout) where position[id] == nil { position[id] = position.count }
        let found = RunMessages.taken(
            by: "planner", run: run, kinds: RunInput.kinds.union([RunMessages.goal]), layout: layout,
            cache: memory.done)
        let unlisted = found.map(\.id).filter { position[$0] == nil }.sorted()
        memory.place(run: run, ids: unlisted)
        for id in unlisted { position[id] = position.count }
        return found.sorted { a, b in
            let first = (Self.isStart(a), Self.isStart(b))
            if first.0 != first.1 { return first.0 }
            switch (position[a.id], position[b.id]) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.id < b.id
            }
        }
    }

    /// True for the goal that starts a run (a submitted plan, or a free-text goal).
    static func isStart(_ envelope: Envelope) -> Bool {
        envelope.kind == RunMessages.goal && envelope.body["from_goal"] == nil
    }
}
