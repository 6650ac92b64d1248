import FileFormats
import Foundation

/// The discovery notes of a high-risk plan (`runs/<run>/DISCOVERY.md`): what the repository holds
/// where the plan will work, read from git before anything is specified or built.
///
/// Offline, the planner writes them itself from the repository: for each task, the tracked files
/// its scope covers now (so a scope that matches nothing is visible before building), the tasks
/// whose scopes may overlap, and, for every gate, whether its program can be found.
struct Discovery {
    let plan: Plan
    /// The commit or branch to read the repository at: the run's integration branch.
    let ref: String

    func markdown() async throws(RoleError) -> String {
        let git = Git(directory: plan.repository)
        let listing = try await git.run(["ls-tree", "-r", "-l", "--full-tree", ref])
        var sizes: [(path: String, bytes: Int)] = []
        for line in listing.split(separator: "\n") {
            // "<mode> <type> <object> <size>\t<path>"
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let bytes = Int(parts[0].split(separator: " ", omittingEmptySubsequences: true).last ?? "") ?? 0
            sizes.append((String(parts[1]), bytes))
        }
        let head = try await git.run(["log", "-n", "5", "--format=%h %s", ref])
        var lines = [
            "# Discovery: \(plan.name)", "",
            "Goal: " + plan.goal.split(separator: "\n").joined(separator: " "), "",
            "Repository \(plan.repository) at \(ref): \(sizes.count) tracked file\(sizes.count == 1 ? "" : "s"). "
                + "Latest commits:", "",
        ]
        lines += head.split(separator: "\n").map { "    " + $0 }
        let route = PlanRoute(plan: plan)
        for task in route.tasks {
            let globs = task.scope.map(Glob.init)
            let covered = sizes.filter { file in globs.contains { $0.matches(file.path) } }
            lines += ["", "## \(task.id): \(task.title)", ""]
            lines.append("Scope: " + task.scope.map { "`\($0)`" }.joined(separator: ", "))
            if covered.isEmpty {
                lines.append("No tracked file matches the scope yet: the task creates its files.")
            } else {
                lines.append("Tracked files in scope (\(covered.count)):")
                lines.append("")
                for file in covered.prefix(50) { lines.append("- `\(file.path)` (\(file.bytes) bytes)") }
                if covered.count > 50 { lines.append("- … and \(covered.count - 50) more") }
            }
            if !task.overlapsWith.isEmpty {
                lines += [
                    "", "May overlap with: " + task.overlapsWith.joined(separator: ", ") + " (never built at once)",
                ]
            }
            if !task.dependsOn.isEmpty { lines += ["", "Depends on: " + task.dependsOn.joined(separator: ", ")] }
        }
        lines += ["", "## Gates", ""]
        let all = plan.preflight + plan.gates + plan.tasks.flatMap(\.gates) + plan.smoke
        var seen: Set<String> = []
        for gate in all where seen.insert(gate.name + "\u{0}" + gate.command.arguments.joined(separator: " ")).inserted
        {
            lines.append(
                "- `\(gate.name)`: `\(PlanText.shellLine(gate.command.arguments))`: " + Self.availability(gate))
        }
        if all.isEmpty { lines.append("The plan has no gates: only scope, budget and secrets are checked.") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Whether the gate's program can be started: a program looked up in `PATH`, or a shell line.
    static func availability(_ gate: Gate) -> String {
        guard case .argv(let argv) = gate.command, let program = argv.first else {
            return "a shell line, run with /bin/sh -c"
        }
        if program.contains("/") {
            return FileManager.default.isExecutableFile(atPath: program) ? "found" : "NOT FOUND: \(program)"
        }
        let path = Foundation.ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let found = path.split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(program)")
        }
        return found ? "found in PATH" : "NOT FOUND in PATH: \(program)"
    }
}
