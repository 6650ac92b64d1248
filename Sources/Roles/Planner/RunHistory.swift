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
        private let journals = Mutex<[String: Journal]>([:])
        private let folds = Mutex<[String: Fold]>([:])

        /// What the planner's journal lines of one run say, as read so far.
        struct Journal {
            /// The byte offsets read up to, by journal file.
            var offsets: [String: Int] = [:]
            /// The acked envelopes, in the order of their ack times (repeats kept).
            var acks: [(id: String, time: Int64)] = []
            /// The time of the latest claim of each envelope.
            var claims: [String: Int64] = [:]
            /// Acked envelopes that no journal line lists at all, each with the place it was first
            /// found at: right after the ack of that time and rank.
            var unlisted: [(id: String, time: Int64, rank: Int)] = []
        }

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

        /// The planner's `ack` lines of `run` in the order of their times, and its latest `claim`
        /// time of each envelope, reading only what was appended since the last call. Each planner
        /// process writes its own journal file, so lines are ordered by their time, not by file:
        /// what a restarted planner acked comes after what its predecessor acked.
        func journal(run: String, layout: BusLayout) -> Journal {
            journals.withLock { journals in
                var known = journals[run] ?? Journal()
                let fresh = JournalReader(layout: layout).newEvents(run: run, offsets: &known.offsets)
                let lines = fresh.enumerated().filter { $0.element.role == "planner" }
                let acked = lines.filter { $0.element.event == .ack }
                known.acks += acked.sorted { a, b in
                    a.element.time.milliseconds != b.element.time.milliseconds
                        ? a.element.time.milliseconds < b.element.time.milliseconds : a.offset < b.offset
                }.map { (id: $0.element.id, time: $0.element.time.milliseconds) }
                for line in lines where line.element.event == .claim {
                    known.claims[line.element.id] = max(
                        known.claims[line.element.id] ?? .min, line.element.time.milliseconds)
                }
                journals[run] = known
                return known
            }
        }

        /// Places acked envelopes that no journal line lists at all after every ack read so far,
        /// where they then stay: at the end of every history they would change the order of the
        /// inputs at each new ack, so the fold could never be resumed.
        /// - Returns: every such envelope placed so far.
        func place(run: String, ids: [String]) -> [(id: String, time: Int64, rank: Int)] {
            journals.withLock { journals in
                var known = journals[run] ?? Journal()
                let last = known.acks.last?.time ?? .min
                for id in ids where !known.unlisted.contains(where: { $0.id == id }) {
                    known.unlisted.append((id, last, 2 * known.acks.count - 1))
                }
                journals[run] = known
                return known.unlisted
            }
        }
    }

    /// The acked envelopes of the run (its `goal` and every ``RunInput``), oldest first: the goal,
    /// then in the order of the journal's `ack` lines. An acked envelope with no `ack` line (its
    /// holder was killed between the ack's rename and the line) takes the place of its latest
    /// `claim` line: one planner handles one input at a time, so it was acked after every input
    /// acked before that claim and before every one acked after it. This is the same order for
    /// every planner process, the first to find it and one started later alike. One with no line
    /// at all comes after everything this process had read when it first found it, in id order.
    /// The plan `goal` the planner drafted for a free-text goal (body `from_goal`) is an input
    /// like the others, in its place.
    func inputs() -> [Envelope] {
        let journal = memory.journal(run: run, layout: layout)
        var acked = Set<String>()
        var order: [(id: String, time: Int64, rank: Int)] = []
        for (index, ack) in journal.acks.enumerated() where acked.insert(ack.id).inserted {
            order.append((ack.id, ack.time, 2 * index))
        }
        let found = RunMessages.taken(
            by: "planner", run: run, kinds: RunInput.kinds.union([RunMessages.goal]), layout: layout,
            cache: memory.done)
        let missing = found.map(\.id).filter { !acked.contains($0) }.sorted()
        for id in missing {
            // After every ack at or before its claim's millisecond, before every later one.
            if let claimed = journal.claims[id] { order.append((id, claimed, Int.max)) }
        }
        let lineless = missing.filter { journal.claims[$0] == nil }
        order += memory.place(run: run, ids: lineless).filter { lineless.contains($0.id) }
        var position: [String: Int] = [:]
        for entry in order.sorted(by: { ($0.time, $0.rank, $0.id) < ($1.time, $1.rank, $1.id) }) {
            position[entry.id] = position.count
        }
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
