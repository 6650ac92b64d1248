import Bus

/// The chaos run's recovery figures, from the kills and the journal.
///
/// A take-over is an `expire` line: a janitor released the claim of a dead holder. For each claim
/// a killed process held, the recovery is the time from the kill to the journal's first claim of
/// that envelope in that queue at a higher epoch (claimed again), and to its `ack` or `dead` line
/// (completed). Journal times are wall-clock milliseconds, as the kill's time is.
public struct ChaosRecovery: Sendable {
    /// Claims released from dead holders (`expire` lines).
    public var takeovers: Int
    /// Kill → claimed again, one sample per claim held by a killed process.
    public var reclaimed: LatencySummary
    /// Kill → acked (or dead-lettered), one sample per claim held by a killed process.
    public var completed: LatencySummary
    /// Claims held by a killed process that the journal never shows claimed again or completed.
    public var unrecovered: [ChaosKill.Claim]
    /// Per claim in ``unrecovered``: the kill and the envelope's journal lines in that queue.
    public var unrecoveredHistories: [String] = []

    /// Folds `events` (every run's journal) against `kills`.
    public init(kills: [ChaosKill], events: [JournalEvent]) {
        takeovers = events.filter { $0.event == .expire }.count
        var byEnvelope: [ChaosKill.Claim: [JournalEvent]] = [:]
        let held = Set(kills.flatMap { $0.held.map { ChaosKill.Claim(id: $0.id, role: $0.role, epoch: 0) } })
        for event in events where held.contains(ChaosKill.Claim(id: event.id, role: event.role, epoch: 0)) {
            byEnvelope[ChaosKill.Claim(id: event.id, role: event.role, epoch: 0), default: []].append(event)
        }
        var reclaims: [Duration] = []
        var completions: [Duration] = []
        var missing: [ChaosKill.Claim] = []
        var histories: [String] = []
        for kill in kills {
            for claim in kill.held {
                let history = byEnvelope[ChaosKill.Claim(id: claim.id, role: claim.role, epoch: 0)] ?? []
                let again = history.filter { $0.event == .claim && ($0.epoch ?? 0) > claim.epoch }.map(\.time).min()
                let done = history.filter { ($0.event == .ack || $0.event == .dead) && ($0.epoch ?? 0) >= claim.epoch }
                    .map(\.time).min()
                func since(_ time: Timestamp) -> Duration {
                    .milliseconds(Swift.max(0, time.milliseconds - kill.time.milliseconds))
                }
                if let again { reclaims.append(since(again)) }
                if let done { completions.append(since(done)) }
                if again == nil && done == nil {
                    missing.append(claim)
                    histories.append(
                        "\(claim.role) \(claim.id) e\(claim.epoch) killed at \(kill.time) (journal: "
                            + Timeline.ordered(history).map { event in
                                "\(event.time) \(event.event.rawValue)\(event.epoch.map { " e\($0)" } ?? "") "
                                    + ((try? WorkerID(parsing: event.worker)).map { "pid \($0.pid)" } ?? event.worker)
                            }.joined(separator: ", ") + ")")
                }
            }
        }
        reclaimed = LatencySummary(reclaims)
        completed = LatencySummary(completions)
        unrecovered = missing
        unrecoveredHistories = histories
    }

    /// `{takeovers, reclaimed: {n, min_ms, p50_ms, p90_ms, max_ms}, completed: {…}, unrecovered}`.
    public var json: JSONValue {
        func spread(_ s: LatencySummary) -> JSONValue {
            guard !s.sortedMicroseconds.isEmpty else {
                return ["n": 0, "min_ms": nil, "p50_ms": nil, "p90_ms": nil, "max_ms": nil]
            }
            return [
                "n": .number(Double(s.sortedMicroseconds.count)), "min_ms": rounded(s.min / 1000, 0),
                "p50_ms": rounded(s.p50 / 1000, 0), "p90_ms": rounded(s.percentile(90) / 1000, 0),
                "max_ms": rounded(s.max / 1000, 0),
            ]
        }
        return [
            "takeovers": .number(Double(takeovers)), "reclaimed": spread(reclaimed), "completed": spread(completed),
            "unrecovered": .array(unrecovered.map { .string("\($0.role) \($0.id) e\($0.epoch)") }),
        ]
    }

    /// `n claims: min … p50 … p90 … max … ms`, or `none`.
    static func text(_ s: LatencySummary) -> String {
        guard !s.sortedMicroseconds.isEmpty else { return "none" }
        return
            "\(s.sortedMicroseconds.count) claims: min \(format(s.min / 1000, 0)) ms, p50 \(format(s.p50 / 1000, 0)) ms, "
            + "p90 \(format(s.percentile(90) / 1000, 0)) ms, max \(format(s.max / 1000, 0)) ms"
    }
}
