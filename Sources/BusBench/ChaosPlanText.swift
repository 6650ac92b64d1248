import Bus

/// The plan of the chaos run: `tasks` tasks that each write one file in a scope of their own, a
/// few of them in dependency chains.
///
/// A task in a chain depends on the one before it, and its step checks that the file of that task
/// is in its checkout before it writes its own (`test -f t04/done && mkdir -p t08 && …`): a task
/// built on a base that lacks its dependency fails. The plan allows one attempt per task
/// (`max_attempts: 1`), so a kill that made a build fail would show as a failed task rather than
/// be retried away.
public enum ChaosPlanText {
    /// The chains: each a list of task indexes, every task depending on the one before it.
    ///
    /// Up to 4 chains of up to 5 tasks each, spread over the plan (chain `c` holds `c`,
    /// `c + stride`, `c + 2 × stride`…), so dependent tasks are released throughout the run.
    public static func chains(tasks: Int) -> [[Int]] {
        guard tasks >= 2 else { return [] }
        let count = Swift.min(4, Swift.max(1, tasks / 6))
        let length = Swift.min(5, tasks / count)
        let stride = tasks / length
        guard length >= 2 else { return [] }
        return (0..<count).map { chain in (0..<length).map { chain + $0 * stride } }
    }

    /// Per task index, the index of the task it depends on.
    public static func dependencies(tasks: Int) -> [Int: Int] {
        var out: [Int: Int] = [:]
        for chain in chains(tasks: tasks) {
            for (before, after) in zip(chain, chain.dropFirst()) { out[after] = before }
        }
        return out
    }

    /// The step of task `index`: ``RunPlanText/step(task:index:seconds:)`` without a sleep, after a
    /// check of its dependency's file when it has one.
    public static func step(index: Int, tasks: Int) -> String {
        let write = RunPlanText.step(task: RunPlanText.taskID(index, of: tasks), index: index, seconds: 0)
        guard let before = dependencies(tasks: tasks)[index] else { return write }
        return "test -f \(RunPlanText.taskID(before, of: tasks))/done && " + write
    }

    /// The plan file's text.
    public static func plan(name: String, repository: String, tasks: Int) -> String {
        func quoted(_ text: String) -> String { JSONValue.string(text).serialized() }
        let dependencies = dependencies(tasks: tasks)
        var lines = [
            "version: 1", "name: \(quoted(name))",
            "goal: \(quoted("\(tasks) tasks that write one file each, some in dependency chains"))", "risk: low",
            "repository: \(quoted(repository))", "base_branch: main", "max_attempts: 1", "tasks:",
        ]
        for index in 0..<tasks {
            let id = RunPlanText.taskID(index, of: tasks)
            lines += [
                "  - id: \(id)", "    title: \(quoted("write \(id)/done"))",
                "    prompt: \(quoted("write \(id)/done"))",
                "    scope: [\(quoted(id + "/**"))]",
            ]
            if let before = dependencies[index] {
                lines.append("    depends_on: [\(RunPlanText.taskID(before, of: tasks))]")
            }
            lines.append("    run: \(quoted(step(index: index, tasks: tasks)))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
