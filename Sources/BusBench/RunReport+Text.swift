import Bus

extension RunReport {
    /// The report for people: aligned tables, then the target and warnings.
    public var text: String {
        let c = configuration
        var lines: [String] = []
        lines.append(
            "run benchmark: \(machine.cpus) CPUs, \(machine.filesystem), \(machine.kernel), \(machine.build) build, "
                + "\(format(totalSeconds)) s; product roles under planbus up, \(c.verifiers) verifier"
                + "\(c.verifiers == 1 ? "" : "s"), default bus settings")
        if !samples.isEmpty {
            lines.append(
                "\(c.tasks) independent tasks, step `sleep \(RunPlanText.secondsText(c.stepSeconds))` + one file; "
                    + "makespan = submit spawned → status.json finished; "
                    + "ideal = ceil(tasks / builders) × step floor + mean verification")
            lines += SessionReport.table(overview(samples), indent: "  ")
            lines.append(
                "build phase (goal acked → last builder ack) against rounds × step floor; per build: builder "
                    + "claim → ack, the step alone (builder.log), the rest, and the hand-off gap (ready → claim; "
                    + "negative when a builder took a build before it acked its last, still committing it)")
            lines += SessionReport.table(buildTable(samples), indent: "  ")
            lines.append(
                "after the build, per queue and envelope kind: published → claimed (wait) and claimed → acked "
                    + "(handling), mean (min–max); busy = handling summed")
            lines += SessionReport.table(stageTable(samples), indent: "  ")
            lines.append(
                "the tail: last builder ack → status.json seen finished, step by step (wait + handling) for the "
                    + "task the planner heard of last; rest = tail − steps")
            lines += SessionReport.table(tailTable(samples), indent: "  ")
        }
        if !big.isEmpty {
            lines.append(
                "large plan: \(c.bigTasks) tasks, step `\(c.bigStepSeconds > 0 ? "sleep \(RunPlanText.secondsText(c.bigStepSeconds)) + " : "")"
                    + "one file`; cost per task, and the planner's handling of one input as the run's history grows")
            lines += SessionReport.table(overview(big), indent: "  ")
            lines += SessionReport.table(
                bigTable(samples.filter { $0.builders == big[0].builders } + big), indent: "  ")
        }
        lines += (samples + big).compactMap { $0.fileCreate?.text }
        if let t = targetSample {
            let met = t.finished && t.ratio <= Self.targetRatio
            lines.append(
                "target: ratio ≤ \(format(Self.targetRatio, 2)) with 8 builders: \(format(t.ratio, 3)), "
                    + (met ? "met" : "missed"))
        }
        for warning in warnings { lines.append("warning: " + warning) }
        return lines.joined(separator: "\n")
    }

    private func ms(_ seconds: Double) -> String { format(seconds * 1000) + " ms" }

    private func overview(_ runs: [RunSample]) -> [[String]] {
        var rows = [
            [
                "tasks", "builders", "makespan", "ideal", "ratio", "per task", "step floor", "verify mean", "start",
                "build phase", "tail", "CPU", "CPU load", "integrated",
            ]
        ]
        for s in runs {
            let p = s.parts
            rows.append([
                "\(s.tasks)", "\(s.builders)", ms(s.makespan), ms(s.ideal), format(s.ratio, 3), ms(s.perTask),
                ms(s.stepFloor), ms(s.timeline.verify.mean), ms(p.start), ms(p.build), ms(p.tail),
                format(s.cpuSeconds, 2) + " s", format(s.cpuLoad, 2),
                "\(s.integrated)\(s.finished ? "" : " (not finished)")",
            ])
        }
        return rows
    }

    private func buildTable(_ runs: [RunSample]) -> [[String]] {
        var rows = [
            [
                "builders", "rounds", "build phase", "rounds × floor", "excess", "excess per round", "builder wall",
                "step", "wall − step", "hand-off", "first claim",
            ]
        ]
        for s in runs {
            let t = s.timeline
            let rounds = (s.tasks + s.builders - 1) / s.builders
            let floor = Double(rounds) * s.stepFloor
            rows.append([
                "\(s.builders)", "\(rounds)", ms(t.buildPhase), ms(floor), ms(t.buildPhase - floor),
                ms((t.buildPhase - floor) / Double(rounds)), t.builderWall.text, t.builderStep.text,
                t.builderOverhead.text, t.handoff.text, ms(t.firstClaim),
            ])
        }
        return rows
    }

    private func stageTable(_ runs: [RunSample]) -> [[String]] {
        var rows = [["builders", "stage", "n", "wait", "handling", "busy"]]
        for s in runs {
            for stage in s.timeline.stages {
                rows.append([
                    "\(s.builders)", stage.name, "\(stage.handling.count)", stage.wait.text, stage.handling.text,
                    ms(stage.handling.total),
                ])
            }
        }
        return rows
    }

    private func tailTable(_ runs: [RunSample]) -> [[String]] {
        var rows = [["builders", "tail", "steps", "rest"]]
        for s in runs {
            let t = s.timeline
            let steps = t.tailSteps.map { step in
                "\(step.name) \(format(step.wait.total * 1000, 0))+\(format(step.handling.total * 1000, 0))"
            }
            let tail = s.parts.tail
            let rest = tail - t.tailSteps.reduce(0) { $0 + $1.wait.total + $1.handling.total }
            rows.append(["\(s.builders)", ms(tail), steps.joined(separator: ", ") + " ms", ms(rest)])
        }
        return rows
    }

    private func bigTable(_ runs: [RunSample]) -> [[String]] {
        var rows = [
            [
                "tasks", "builders", "per task", "goal handling", "planner per input", "first tenth", "last tenth",
                "slope per input", "planner busy", "plan parse", "start", "fold", "journal read", "done read", "verify",
                "verifier busy",
            ]
        ]
        for s in runs {
            let t = s.timeline
            let growth = t.plannerGrowth()
            rows.append([
                "\(s.tasks)", "\(s.builders)", ms(s.perTask), ms(t.goalHandling), t.planner.text, ms(growth.first),
                ms(growth.last), format(t.plannerSlope * 1e6) + " µs", ms(t.planner.total + t.goalHandling),
                ms(s.plannerReads.planParse), ms(s.plannerReads.start), ms(s.plannerReads.fold),
                ms(s.plannerReads.journal) + " (\(s.plannerReads.journalEvents) lines)",
                ms(s.plannerReads.done) + " (\(s.plannerReads.doneEnvelopes))", t.verify.text, ms(t.verify.total),
            ])
        }
        return rows
    }
}
