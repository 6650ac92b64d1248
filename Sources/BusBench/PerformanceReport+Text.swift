import Bus

extension PerformanceReport {
    /// The summary for people (each figure with the command whose part produced it), then each
    /// part's own text report.
    public var text: String {
        var lines: [String] = []
        let load = { (l: [Double]) in l.map { format($0, 2) }.joined(separator: " / ") }
        lines.append("planbus performance report: \(configuration.commandLine)")
        lines.append(
            "machine: \(machine.cpus) CPUs, \(machine.filesystem), \(machine.kernel), \(machine.build) build; "
                + "commit \(commit ?? "unknown"); load average \(load(machine.loadAverageBefore)) before, "
                + "\(load(machine.loadAverageAfter)) after; \(format(totalSeconds)) s")
        for warning in warnings { lines.append("WARNING: " + warning) }
        lines += fileCreate.map(\.text)
        lines.append("")
        lines += busLines + brokerLines + journalLines + sessionLines + runLines + memoryLines
        for (title, part) in [
            ("planbus bench bus", bus?.text), ("planbus bench session", session?.text),
            ("planbus bench run", run?.text),
        ] {
            guard let part else { continue }
            lines += ["", "=== \(title) ===", part]
        }
        return lines.joined(separator: "\n")
    }

    private var busLines: [String] {
        guard let bus else { return [] }
        var lines = ["bus against the syscall floor (planbus bench bus)"]
        for t in bus.throughput where t.setup.heartbeat {
            let floor = t.adjacentFloor.perSecond
            lines.append(
                "  \(t.setup.durable ? "durable" : "non-durable"), \(t.setup.consumers) consumer(s): "
                    + "\(Int(t.endToEnd.perSecond.rounded()))/s end to end, floor just before \(Int(floor.rounded()))/s, "
                    + "ratio \(format(floor > 0 ? t.endToEnd.perSecond / floor : 0, 3))")
        }
        if let w = bus.wakeInotify {
            lines.append(
                "  inotify wake latency p50 \(format(w.latency.p50)) µs, p99 \(format(w.latency.p99)) µs (\(w.missed) missed)"
            )
        }
        if let q = bus.logQuery {
            lines.append(
                "  planbus log --run R (100 envelopes) on a \(q.busEnvelopes)-envelope bus: p50 "
                    + "\(format(q.large.p50 / 1000)) ms, max \(format(q.large.max / 1000)) ms")
        }
        return lines
    }

    private var brokerLines: [String] {
        guard let broker else { return [] }
        var lines = ["", "bus against Redis Streams, same workload (planbus bench report)"]
        if let skipped = broker.skipped { lines.append("  Redis skipped: \(skipped)") }
        if let version = broker.redisVersion { lines.append("  \(version)") }
        for m in broker.modes {
            let label =
                m.durable
                ? "durable (bus durable; redis appendfsync always)" : "memory (bus non-durable; redis --save '')"
            lines.append("  \(label)")
            let l = { (s: LatencySummary) in
                "p50 \(format(s.p50)) µs, p99 \(format(s.p99)) µs (\(s.sortedMicroseconds.count) round trips)"
            }
            lines.append("    publish→wake→read→ack, one at a time: bus \(l(m.busLatency))")
            if broker.skipped == nil {
                lines.append("                                          redis \(l(m.redisLatency))")
                lines.append(
                    "    bus / redis latency: p50 \(format(m.latencyRatioP50, 2))×, p99 \(format(m.latencyRatioP99, 2))×"
                        + (m.latencyRatioP50 <= BrokerComparison.latencyGoal ? "  [within 2×]" : "  [NOT within 2×]"))
            }
            if let onMemory = m.busOnMemoryLatency {
                lines.append("    the bus on \(BenchDirectory.memoryParent) (tmpfs): \(l(onMemory))")
                if broker.skipped == nil, let r = m.memoryLatencyRatioP50 {
                    lines.append("    bus on tmpfs / redis latency: p50 \(format(r, 2))×")
                }
            }
            if let b = m.busThroughput {
                lines.append(
                    "    throughput, \(b.count) messages: bus \(Int(b.perSecond.rounded()))/s (1 consumer process)")
            }
            if let r = m.redisThroughput {
                lines.append(
                    "                                     redis \(Int(r.perSecond.rounded()))/s (batches of \(BrokerComparisonBench.batch))"
                        + (m.throughputRatio.map { ", \(format($0, 2))× the bus" } ?? ""))
            }
        }
        return lines
    }

    private var journalLines: [String] {
        guard let j = journal else { return [] }
        let ms = { (s: LatencySummary) in "p50 \(format(s.p50 / 1000)) ms, max \(format(s.max / 1000)) ms" }
        return [
            "",
            "queries over one run of \(j.envelopes) envelopes (\(j.lines) journal lines, written in \(format(j.buildSeconds, 2)) s)",
            "  planbus log --run R (\(j.printedLines) lines)  \(ms(j.log))",
            "  planbus status R --json             \(ms(j.status))",
            "  journal read (in process)           \(ms(j.read))",
            "  timeline fold (in process)          \(ms(j.fold))",
        ]
    }

    private var sessionLines: [String] {
        guard let s = session else { return [] }
        var lines = ["", "supervision (planbus bench session)"]
        if !s.up.isEmpty {
            let hb = SessionSpread(s.up.map(\.heartbeatFiles))
            let running = SessionSpread(s.up.map(\.running))
            lines.append(
                "  up, \(s.configuration.instances) roles: every heartbeat at \(format(hb.median * 1000)) ms, "
                    + "all running at \(format(running.median * 1000)) ms (medians of \(s.up.count))")
        }
        for point in s.kills where !point.samples.isEmpty {
            lines.append(
                "  SIGKILL → done, \(point.mode.label), lease \(format(point.leaseSeconds * 1000, 0)) ms: median "
                    + "\(format(point.done.median * 1000)) ms, done − lease \(format(point.doneMinusLease.median * 1000)) ms"
            )
        }
        return lines
    }

    private var runLines: [String] {
        guard let r = run else { return [] }
        var lines = ["", "orchestration (planbus bench run)"]
        for s in r.samples + r.big {
            lines.append(
                "  \(s.tasks) tasks, \(s.builders) builders: makespan \(format(s.makespan * 1000, 0)) ms, ideal "
                    + "\(format(s.ideal * 1000, 0)) ms, ratio \(format(s.ratio, 3))"
                    + (s.builders == 8 && s.tasks == r.configuration.tasks
                        ? (s.ratio <= RunReport.targetRatio ? "  [target met]" : "  [TARGET MISSED: at most 1.15]")
                        : ""))
        }
        return lines
    }

    private var memoryLines: [String] {
        guard let sample = memorySample else { return [] }
        var lines = [
            "",
            "memory of planbus up's processes (\(sample.tasks) tasks, \(sample.builders) builders; /proc/<pid>/status, KiB)",
            "  role         instances  idle VmRSS  load max VmRSS  VmHWM",
        ]
        for r in Self.perRole(sample.memory) {
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
            lines.append(
                "  " + pad(r.role, 13) + pad(String(r.instances), 11) + pad(String(r.idle), 12)
                    + pad(String(r.load), 16)
                    + String(r.peak))
        }
        return lines
    }
}
