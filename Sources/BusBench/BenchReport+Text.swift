import Bus

extension BenchReport {
    /// The report for people: one line per figure, with the target where there is one.
    public var text: String {
        var lines: [String] = []
        let met = targetsMet
        func verdict(_ key: String) -> String {
            guard let ok = met[key] else { return "" }
            return ok ? "  [target met]" : "  [TARGET MISSED]"
        }
        func rate(_ r: Rate) -> String {
            "\(Int(r.perSecond.rounded()))/s (\(format(r.microsecondsPerOperation)) µs each)"
        }
        lines.append(
            "bus benchmark: \(machine.cpus) CPUs, \(machine.filesystem), \(machine.kernel), \(machine.build) build, "
                + "\(format(totalSeconds)) s")
        lines.append("floor (the bus's system calls, no bus logic)")
        lines.append("  per-envelope sequence, non-durable  \(rate(floor.sequence))")
        lines.append("  per-envelope sequence, durable      \(rate(floor.durableSequence))")
        lines.append("  create+write+rename                 \(rate(floor.createWriteRename))")
        lines.append("  create+write+fsync+rename+dir fsync \(rate(floor.createWriteRenameDurable))")
        lines.append("  O_EXCL create                       \(rate(floor.exclusiveCreate))")
        lines.append("  rename                              \(rate(floor.rename))")
        lines.append("bus code, one envelope at a time in one thread (no wake-up)")
        for r in sequential {
            let label = (r.durable ? "durable" : "non-durable") + (r.heartbeat ? ", heartbeat" : "")
            lines.append(
                "  \(label + String(repeating: " ", count: max(0, 26 - label.count))) \(Int(r.total.perSecond.rounded()))/s  "
                    + "publish \(format(r.publish.microsecondsPerOperation)) µs, claim \(format(r.claim.microsecondsPerOperation)) µs, "
                    + "ack \(format(r.ack.microsecondsPerOperation)) µs; ratio to floor "
                    + format(r.adjacentFloor.perSecond > 0 ? r.total.perSecond / r.adjacentFloor.perSecond : 0, 2))
        }
        lines.append("throughput (publish→wake→claim→read→ack, consumer processes)")
        for r in throughput {
            let label =
                "\(r.setup.durable ? "durable" : "non-durable"), \(r.setup.consumers) consumer\(r.setup.consumers == 1 ? "" : "s")"
                + (r.setup.heartbeat ? "" : ", no heartbeat (what-if)")
            lines.append(
                "  \(label + String(repeating: " ", count: max(0, 26 - label.count))) \(Int(r.endToEnd.perSecond.rounded()))/s  "
                    + "ratio to floor \(format(ratio(r), 2))"
                    + (r.setup.durable || !r.setup.heartbeat
                        ? "" : verdict("non_durable_throughput_\(r.setup.consumers)_consumer")))
        }
        if let w = wakeInotify {
            lines.append(
                "wake latency, inotify  p50 \(format(w.latency.p50)) µs  p99 \(format(w.latency.p99)) µs  "
                    + "max \(format(w.latency.max)) µs  (\(w.latency.sortedMicroseconds.count) samples, \(w.missed) missed)"
                    + verdict("inotify_wake_p50") + verdict("inotify_wake_p99"))
        }
        if let w = wakePoll {
            lines.append(
                "wake latency, poll \(w.pollMs ?? 0) ms  p50 \(format(w.latency.p50 / 1000)) ms  "
                    + "p99 \(format(w.latency.p99 / 1000)) ms  max \(format(w.latency.max / 1000)) ms  "
                    + "(\(w.latency.sortedMicroseconds.count) samples)")
        }
        if let q = logQuery {
            lines.append(
                "planbus log --run R (\(q.targetRunEnvelopes) envelopes; bus of \(q.busEnvelopes) in \(q.runs) runs)  "
                    + "p50 \(format(q.large.p50 / 1000)) ms  max \(format(q.large.max / 1000)) ms; run alone p50 "
                    + "\(format(q.small.p50 / 1000)) ms; with \(q.heldOtherClaims) claims of other runs held p50 "
                    + "\(format(q.largeManyClaims.p50 / 1000)) ms  max \(format(q.largeManyClaims.max / 1000)) ms"
                    + verdict("log_query"))
        }
        for warning in warnings { lines.append("warning: " + warning) }
        return lines.joined(separator: "\n")
    }
}

/// A number with `digits` decimals (one by default), for people.
func format(_ value: Double, _ digits: Int = 1) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    guard digits > 0 else { return String(scaled) }
    let sign = scaled < 0 ? "-" : ""
    let magnitude = abs(scaled)
    let fraction = String(magnitude % Int(scale))
    return sign + String(magnitude / Int(scale)) + "." + String(repeating: "0", count: digits - fraction.count)
        + fraction
}
