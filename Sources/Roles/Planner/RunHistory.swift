import Bus
import Foundation

/// The inputs the planner has acked for one run, in the order it acked them, read back from the
/// bus: the journal's `ack` lines of the planner's queue give the order, and `q/planner/done/`
/// gives each envelope whole.
struct RunHistory {
    let layout: BusLayout
    let run: String

    /// The acked envelopes of the run (its `goal` and every ``RunInput``), oldest first: in the
    /// order of the journal's `ack` lines, then any acked envelope the journal does not list yet
    /// (the ack's rename happened, its journal line did not: a crash in between), in id order.
    func inputs() -> [Envelope] {
        let acks = JournalReader(layout: layout).events(run: run).filter { $0.event == .ack && $0.role == "planner" }
        var position: [String: Int] = [:]
        for event in acks where position[event.id] == nil { position[event.id] = position.count }
        let found = RunMessages.taken(
            by: "planner", run: run, kinds: RunInput.kinds.union([RunMessages.goal]), layout: layout)
        return found.sorted { a, b in
            switch (position[a.id], position[b.id]) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.id < b.id
            }
        }
    }
}
