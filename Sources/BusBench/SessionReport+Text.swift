import Bus
import FileFormats
import Launcher

extension SessionReport {
    /// The report for people: two aligned tables, then errors and warnings.
    public var text: String {
        let c = configuration
        var lines: [String] = []
        lines.append(
            "session benchmark: \(machine.cpus) CPUs, \(machine.filesystem), \(machine.kernel), \(machine.build) build, "
                + "\(format(totalSeconds)) s; \(c.runs) run\(c.runs == 1 ? "" : "s") per point")
        lines.append(
            "up → every role heartbeats (\(c.instances) instances of the bench role, a fresh bus per run; "
                + "floor: \(c.instances) × planbus --version in parallel, start to last exit)")
        var up: [[String]] = [
            ["run", "floor", "one process", "heartbeat files", "all running", "running / floor", "stop"]
        ]
        for (index, s) in self.up.enumerated() {
            up.append([
                "\(index + 1)", ms(s.floorParallel), ms(s.floorOne), ms(s.heartbeatFiles), ms(s.running),
                format(s.ratio, 2), s.stop.map(ms) ?? "killed",
            ])
        }
        if self.up.count > 1 {
            let median = { (values: [Double]) in SessionSpread(values).median }
            up.append([
                "median", ms(median(self.up.map(\.floorParallel))), ms(median(self.up.map(\.floorOne))),
                ms(median(self.up.map(\.heartbeatFiles))), ms(median(self.up.map(\.running))),
                format(median(self.up.map(\.ratio)), 2), ms(median(self.up.compactMap(\.stop))),
            ])
        }
        lines += Self.table(up, indent: "  ")
        lines.append(
            "SIGKILL of a role holding an envelope → envelope acked by the replacement (1 instance; restart "
                + "backoff \(DurationText.format(c.restartBackoff)); "
                + "min / median / max from the kill)")
        var kill: [[String]] = [
            [
                "mode", "lease", "heartbeat", "janitor", "new pid", "claimed again", "done", "done − lease",
                "(done − lease) / lease",
                "errors",
            ]
        ]
        for p in kills {
            kill.append([
                p.mode.label, DurationText.format(p.lease), DurationText.format(p.heartbeat),
                DurationText.format(p.janitor), spread(p.respawn),
                spread(p.reclaim), spread(p.done), p.mode == .otherHost ? spread(p.doneMinusLease) : "-",
                p.mode == .otherHost && !p.samples.isEmpty
                    ? "\(format(p.overLease.min, 2)) / \(format(p.overLease.median, 2)) / \(format(p.overLease.max, 2))"
                    : "-",
                "\(p.errors)",
            ])
        }
        lines += Self.table(kill, indent: "  ")
        let costs = leaseCost
        if !costs.isEmpty {
            lines.append(
                "other host − same host, median done (the same-host take-over is the floor: no wait for the lease)")
            var rows: [[String]] = [["lease", "difference", "difference / lease"]]
            for cost in costs {
                let lease = Double(cost.lease.milliseconds) / 1000
                rows.append([DurationText.format(cost.lease), ms(cost.seconds), format(cost.seconds / lease, 2)])
            }
            lines += Self.table(rows, indent: "  ")
        }
        for error in errors { lines.append("error: " + error) }
        for warning in warnings { lines.append("warning: " + warning) }
        return lines.joined(separator: "\n")
    }

    private func ms(_ seconds: Double) -> String { format(seconds * 1000) + " ms" }

    private func spread(_ s: SessionSpread) -> String {
        guard !s.sorted.isEmpty else { return "-" }
        return "\(format(s.min * 1000)) / \(format(s.median * 1000)) / \(format(s.max * 1000)) ms"
    }

    /// `rows` with every column padded to its widest cell.
    static func table(_ rows: [[String]], indent: String) -> [String] {
        var widths: [Int] = []
        for row in rows {
            for (i, cell) in row.enumerated() {
                if i == widths.count { widths.append(0) }
                widths[i] = max(widths[i], cell.count)
            }
        }
        return rows.map { row in
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }
            return indent + cells.joined(separator: "  ")
        }
    }
}
