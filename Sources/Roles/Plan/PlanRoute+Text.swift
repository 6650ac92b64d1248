import FileFormats

extension PlanRoute {
    /// The route for people: the plan, its stages, its waves, and each task with its scope,
    /// dependencies, gates and budget. Lines end with a newline.
    public var text: String {
        var lines: [String] = []
        lines.append("Plan \(QuotedText.quoted(plan.name)), risk \(plan.risk.rawValue), from \(plan.file)")
        lines.append("Goal: " + plan.goal.split(separator: "\n").joined(separator: " "))
        lines.append("Repository: \(plan.repository), base branch \(plan.baseBranch)")
        lines.append("Stages: " + stages.map(\.rawValue).joined(separator: " → "))
        let retries = plan.maxAttempts - 1
        lines.append(
            "Attempts: up to \(plan.maxAttempts) per task (the first try and \(retries) "
                + "re-verification\(retries == 1 ? "" : "s"))")
        lines.append("Circuit breaker: the run halts after \(plan.circuitBreaker) task failures in a row")
        lines.append("Budget per task: " + Self.describe(plan.budget))
        lines.append("Budget of the run: " + Self.describe(plan.runBudget))
        lines.append("")
        lines.append("Preflight gates (once, before any task; a failure halts the run):")
        lines += Self.describe(plan.preflight, indent: "  ")
        lines.append("")
        for (number, ids) in waves.enumerated() {
            lines.append("Wave \(number + 1): " + ids.joined(separator: ", "))
        }
        for task in tasks {
            lines.append("")
            lines += describe(task)
        }
        lines.append("")
        lines.append("Smoke gates (once, on the integration branch, after all tasks):")
        lines += Self.describe(plan.smoke, indent: "  ")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The lines of one task.
    func describe(_ task: TaskRoute) -> [String] {
        var lines = ["Task \(task.id) (wave \(task.wave)): \(task.title)"]
        lines.append("  scope: " + task.scope.joined(separator: ", "))
        if !task.dependsOn.isEmpty {
            lines.append("  after: " + task.dependsOn.joined(separator: ", ") + " (depends on)")
        }
        if !task.overlapsWith.isEmpty {
            lines.append(
                "  not in the same wave as: " + task.overlapsWith.joined(separator: ", ") + " (scopes may overlap)")
        }
        lines.append(
            "  built by: "
                + (task.needsAgent
                    ? "the builder's agent (the task has no run step; refused while the builder is offline)"
                    : "its run step"))
        if task.candidates > 1 {
            lines.append("  design competition: \(task.candidates) candidates; the judge picks one")
        }
        if task.needsApproval {
            lines.append("  needs approval: a person approves it before integration")
        }
        lines.append("  budget: " + Self.describe(task.budget))
        lines.append("  gates:")
        lines += Self.describe(task.gates, indent: "    ")
        return lines
    }

    /// `budget` as `N files, M lines`, or `no limit`.
    static func describe(_ budget: PlanBudget) -> String {
        var parts: [String] = []
        if let files = budget.files { parts.append("\(files) file\(files == 1 ? "" : "s")") }
        if let lines = budget.lines { parts.append("\(lines) line\(lines == 1 ? "" : "s")") }
        return parts.isEmpty ? "no limit" : parts.joined(separator: ", ")
    }

    /// `budget` as `N files, M lines, K attempts`, or `no limit`.
    static func describe(_ budget: RunBudget) -> String {
        var parts: [String] = []
        if let files = budget.files { parts.append("\(files) file\(files == 1 ? "" : "s") integrated") }
        if let lines = budget.lines { parts.append("\(lines) line\(lines == 1 ? "" : "s") integrated") }
        if let attempts = budget.attempts { parts.append("\(attempts) build attempt\(attempts == 1 ? "" : "s")") }
        return parts.isEmpty ? "no limit" : parts.joined(separator: ", ")
    }

    /// One line per gate, or `none`.
    static func describe(_ gates: [Gate], indent: String) -> [String] {
        if gates.isEmpty { return [indent + "none"] }
        return gates.map { gate in
            var line = "\(indent)\(gate.name): \(PlanText.shellLine(gate.command.arguments))"
            line += " (timeout \(DurationText.format(gate.timeout))"
            if !gate.protects.isEmpty { line += "; must not change " + gate.protects.joined(separator: ", ") }
            return line + ")"
        }
    }
}
