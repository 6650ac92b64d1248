import Bus
import Foundation

/// The inputs the planner has acked for one run, in the order it acked them, read back from the
/// bus: the journal's `ack` lines of the planner's queue give the order, and `q/planner/done/`
/// gives each envelope whole.
struct RunHistory {
    let layout: BusLayout
    let run: String

    /// The acked `goal` and `verdict` envelopes of the run, oldest first.
    func inputs() -> [Envelope] {
        let acks = JournalReader(layout: layout).events(run: run).filter { $0.event == .ack && $0.role == "planner" }
        var seen = Set<String>()
        let order = acks.compactMap { event -> String? in seen.insert(event.id).inserted ? event.id : nil }
        guard !order.isEmpty else { return [] }
        var byID: [String: Envelope] = [:]
        let wanted = Set(order)
        let done = layout.done("planner")
        for day in (try? FileManager.default.contentsOfDirectory(atPath: done)) ?? [] {
            let folder = done + "/" + day
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                guard let dot = name.firstIndex(of: "."), wanted.contains(String(name[..<dot])),
                    let data = FileManager.default.contents(atPath: folder + "/" + name),
                    let envelope = try? Envelope(decoding: Array(data))
                else { continue }
                byID[envelope.id] = envelope
            }
        }
        return order.compactMap { byID[$0] }.filter { $0.kind == RunMessages.goal || $0.kind == RunMessages.verdict }
    }
}
