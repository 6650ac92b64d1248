import Bus
import Foundation

extension ChaosReport {
    /// The report for people.
    public var text: String {
        let c = configuration
        var lines = [
            "planbus bench chaos: \(c.tasks) tasks (\(ChaosPlanText.chains(tasks: c.tasks).count) dependency chains), "
                + "\(c.builders) builders, \(c.verifiers) verifiers; seed \(seed); a kill every "
                + "\(format(c.minInterval, 2))–\(format(c.maxInterval, 2)) s",
            "machine: \(machine.cpus) CPUs, \(machine.filesystem), \(machine.kernel), \(machine.build) build",
            "",
            "kills: \(kills.count) (" + killsPerRole.map { "\($0.role) \($0.kills)" }.joined(separator: ", ")
                + "); \(killsHolding) hit a process holding claims, \(kills.reduce(0) { $0 + $1.held.count }) claims in all",
            "take-overs (expire lines): \(recovery.takeovers)",
            "recovery, kill → claimed again: " + ChaosRecovery.text(recovery.reclaimed),
            "recovery, kill → completed: " + ChaosRecovery.text(recovery.completed),
        ]
        if !recovery.unrecovered.isEmpty {
            lines.append(
                "never recovered: "
                    + recovery.unrecovered.map { "\($0.role) \($0.id) e\($0.epoch)" }.joined(separator: ", "))
        }
        if let trees = janitor["stale_work_trees_removed"]?.arrayValue, !trees.isEmpty {
            let names = trees.compactMap(\.stringValue).map { ($0 as NSString).lastPathComponent }
            lines.append("janitor: \(trees.count) stale work tree(s) removed: " + names.joined(separator: ", "))
        }
        lines += [
            "run: \(format(runSeconds)) s from submit to finished; total \(format(totalSeconds)) s", "", "checks:",
        ]
        for check in checks { lines.append("  [\(check.passed ? "ok" : "FAILED")] \(check.name): \(check.detail)") }
        lines.append("dead letters: " + (deadLetters.isEmpty ? "none" : ""))
        for letter in deadLetters { lines.append("  " + letter) }
        if let keptDirectory { lines.append("scratch directory kept: \(keptDirectory)") }
        lines.append(passed ? "every check holds" : "FAILED: \(failures.count) check(s)")
        return lines.joined(separator: "\n")
    }
}
