import Bus

/// The plan of the run benchmark: `tasks` independent tasks, each with its own scope
/// (`t07/**`), and a step that sleeps, then writes one file in that scope.
///
/// No task depends on another and no two scopes overlap, so the planner releases every task with
/// the goal and the builders take them as they come free. The plan has no gates: the verifier
/// still checks out, diffs, scans and integrates each change, which every run does.
public enum RunPlanText {
    /// The id of task `index` of `count`: `t` and the index, zero-padded to the width of the last
    /// index, at least 2 digits (`t00`…`t31`, `t000`…`t499`).
    public static func taskID(_ index: Int, of count: Int) -> String {
        let width = Swift.max(2, String(Swift.max(count - 1, 0)).count)
        let digits = String(index)
        return "t" + String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }

    /// The step of task `id`: `sleep S && mkdir -p ID && echo N > ID/done`, without the sleep when
    /// `seconds` is 0.
    public static func step(task id: String, index: Int, seconds: Double) -> String {
        let write = "mkdir -p \(id) && echo \(index) > \(id)/done"
        return seconds > 0 ? "sleep \(secondsText(seconds)) && " + write : write
    }

    /// `seconds` as `sleep` takes it: `1`, `0.25`.
    public static func secondsText(_ seconds: Double) -> String {
        if seconds == seconds.rounded(), seconds < 1e9 { return String(Int(seconds)) }
        return String(seconds)
    }

    /// The plan file's text.
    /// - Parameters:
    ///   - name: the plan's name.
    ///   - repository: the repository's absolute path.
    ///   - tasks: how many tasks.
    ///   - stepSeconds: how long each step sleeps.
    public static func plan(name: String, repository: String, tasks: Int, stepSeconds: Double) -> String {
        func quoted(_ text: String) -> String { JSONValue.string(text).serialized() }
        var lines = [
            "version: 1", "name: \(quoted(name))",
            "goal: \(quoted("\(tasks) independent tasks, each a \(secondsText(stepSeconds)) s step and one file"))",
            "risk: low", "repository: \(quoted(repository))", "base_branch: main", "max_attempts: 1", "tasks:",
        ]
        for index in 0..<tasks {
            let id = taskID(index, of: tasks)
            lines += [
                "  - id: \(id)", "    title: \(quoted("write \(id)/done"))",
                "    prompt: \(quoted("write \(id)/done"))",
                "    scope: [\(quoted(id + "/**"))]",
                "    run: \(quoted(step(task: id, index: index, seconds: stepSeconds)))",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
