import Bus
import FileFormats

/// Writes a plan as YAML that ``PlanLoader`` reads back: the handoff's next plan.
///
/// Strings are written as JSON strings (YAML reads them as double-quoted scalars), so any text
/// survives the round trip.
enum PlanWriter {
    static func yaml(_ plan: Plan, tasks: [PlanTask], baseBranch: String, name: String, goal: String) -> String {
        func q(_ s: String) -> String { JSONValue.string(s).serialized() }
        func list(_ items: [String]) -> String { "[" + items.map(q).joined(separator: ", ") + "]" }
        func gates(_ gates: [Gate], indent: String) -> [String] {
            gates.flatMap { gate -> [String] in
                var lines = ["\(indent)- name: \(q(gate.name))"]
                switch gate.command {
                case .argv(let argv): lines.append("\(indent)  command: \(list(argv))")
                case .shell(let line): lines.append("\(indent)  command: \(q(line))")
                }
                lines.append("\(indent)  timeout: \(DurationText.format(gate.timeout))")
                if !gate.protects.isEmpty { lines.append("\(indent)  protects: \(list(gate.protects))") }
                return lines
            }
        }
        var lines = [
            "version: 1", "name: \(q(name))", "goal: \(q(goal))", "risk: \(plan.risk.rawValue)",
            "repository: \(q(plan.repository))", "base_branch: \(q(baseBranch))", "max_attempts: \(plan.maxAttempts)",
            "circuit_breaker: \(plan.circuitBreaker)",
        ]
        if let files = plan.budget.files { lines.append("budget:\n  files: \(files)") }
        if let lines_ = plan.budget.lines {
            lines.append(plan.budget.files == nil ? "budget:\n  lines: \(lines_)" : "  lines: \(lines_)")
        }
        if !plan.gates.isEmpty {
            lines.append("gates:")
            lines += gates(plan.gates, indent: "  ")
        }
        lines.append("tasks:")
        let kept = Set(tasks.map(\.id))
        for task in tasks {
            lines.append("  - id: \(q(task.id))")
            lines.append("    title: \(q(task.title))")
            lines.append("    prompt: \(q(task.prompt))")
            lines.append("    scope: \(list(task.scope))")
            let deps = task.dependsOn.filter { kept.contains($0) }
            if !deps.isEmpty { lines.append("    depends_on: \(list(deps))") }
            if let run = task.run { lines.append("    run: \(q(run))") }
            if task.candidates > 1 { lines.append("    candidates: \(task.candidates)") }
            if task.needsApproval { lines.append("    needs_approval: true") }
            if let files = task.budget.files { lines.append("    budget:\n      files: \(files)") }
            if let l = task.budget.lines {
                lines.append(task.budget.files == nil ? "    budget:\n      lines: \(l)" : "      lines: \(l)")
            }
            if !task.gates.isEmpty {
                lines.append("    gates:")
                lines += gates(task.gates, indent: "      ")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
