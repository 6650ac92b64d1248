import FileFormats

/// The tech spec of a medium- or high-risk plan (`runs/<run>/SPEC.md`), written before anything
/// is built.
///
/// Offline, the planner writes it from the plan and the repository: for each task the intent (its
/// prompt), a file-impact manifest (the tracked files in scope are MODIFY candidates, anything
/// else in scope is CREATE, everything outside is do-not-touch), the order it runs in, the exact
/// gates with their pass condition, the budget, and whether a person or the judge decides.
struct TechSpec {
    let plan: Plan
    let ref: String

    func markdown() async throws(RoleError) -> String {
        let git = Git(directory: plan.repository)
        let tracked = try await git.run(["ls-tree", "-r", "--name-only", "--full-tree", ref])
            .split(separator: "\n").map(String.init)
        let route = PlanRoute(plan: plan)
        var lines = [
            "# Tech spec: \(plan.name)", "",
            "Goal: " + plan.goal.split(separator: "\n").joined(separator: " "), "",
            "Risk \(plan.risk.rawValue). Stages: " + route.stages.map(\.rawValue).joined(separator: " → ") + ".",
            "Every change is built on the integration branch `\(RunMessages.integrationBranch("<run>"))`; the base "
                + "branch `\(plan.baseBranch)` changes only through `planbus merge`.",
            "",
            "Invariants for every task: change only paths in the task's scope; stay within its budget; add no "
                + "credentials; leave each gate's protected paths unchanged.",
        ]
        for task in route.tasks {
            let globs = task.scope.map(Glob.init)
            let modify = tracked.filter { path in globs.contains { $0.matches(path) } }
            lines += ["", "## \(task.id): \(task.title) (wave \(task.wave))", "", "Intent:", ""]
            lines += (plan.task(task.id)?.prompt ?? "").split(separator: "\n", omittingEmptySubsequences: false)
                .map { "> " + $0 }
            lines += ["", "File impact:", ""]
            lines.append(
                "- MODIFY (tracked files in scope): "
                    + (modify.isEmpty ? "none" : modify.prefix(30).map { "`\($0)`" }.joined(separator: ", "))
                    + (modify.count > 30 ? ", … \(modify.count - 30) more" : ""))
            lines.append("- CREATE: new files matching " + task.scope.map { "`\($0)`" }.joined(separator: ", "))
            lines.append("- DO NOT TOUCH: every path outside the scope")
            if !task.dependsOn.isEmpty { lines.append("- Starts after: " + task.dependsOn.joined(separator: ", ")) }
            lines += ["", "Gates (pass: exit 0 within the timeout, protected paths unchanged):", ""]
            if task.gates.isEmpty { lines.append("- none: scope, budget and secrets only") }
            for gate in task.gates {
                lines.append(
                    "- `\(gate.name)`: `\(PlanText.shellLine(gate.command.arguments))`, timeout "
                        + DurationText.format(gate.timeout)
                        + (gate.protects.isEmpty ? "" : ", protects " + gate.protects.joined(separator: ", ")))
            }
            lines.append("")
            lines.append("Budget: " + PlanRoute.describe(task.budget) + ".")
            if task.candidates > 1 {
                lines.append("Decided by a design competition of \(task.candidates) candidates; the judge picks one.")
            }
            if task.needsApproval { lines.append("A person approves it before it is integrated.") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
