import Bus
import FileFormats
import Foundation

/// The checks the planner makes of its model's answers before it uses them.
enum DraftCheck {
    /// The sections a tech spec must have, each as a Markdown heading.
    static let specSections = [
        "Repo-awareness proof", "File-impact manifest", "Contracts", "Invariants", "Gates", "Golden path",
        "Failure matrix", "Step report",
    ]

    /// The sections `markdown` lacks: those no heading line (`#` …) names, ignoring case.
    static func missingSections(in markdown: String) -> [String] {
        let headings = markdown.split(separator: "\n").filter { $0.hasPrefix("#") }.map { $0.lowercased() }
        return specSections.filter { section in
            let name = section.lowercased()
            let loose = name.replacingOccurrences(of: "-", with: " ")
            return !headings.contains {
                $0.contains(name) || $0.replacingOccurrences(of: "-", with: " ").contains(loose)
            }
        }
    }

    /// The intent questions of an answer `{"questions": [String]}`, the first `limit` kept.
    /// - Throws: a reason when the answer is not of that form.
    static func questions(in json: JSONValue?, text: String, limit: Int) throws(RoleError) -> [String] {
        guard let value = json ?? AgentReply.json(in: text), let list = value["questions"]?.arrayValue else {
            throw RoleError(
                .invalidRequest, "the answer is not a JSON object {\"questions\": [String]}: \(text.prefix(200))")
        }
        let questions = list.compactMap { $0.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
        return Array(questions.prefix(max(0, min(limit, 4))))
    }

    /// The plan in a model's answer: the last ```` ```yaml ```` (or `yml`, `json`) fenced block,
    /// else the whole answer (YAML, or JSON, which YAML reads too).
    static func planBlock(in text: String) -> String {
        let blocks = text.components(separatedBy: "```")
        if blocks.count >= 3 {
            for index in stride(from: blocks.count - 2, through: 1, by: -2) {
                let block = blocks[index]
                let newline = block.firstIndex(of: "\n") ?? block.startIndex
                let tag = block[..<newline].trimmingCharacters(in: .whitespaces).lowercased()
                if ["yaml", "yml", "json", ""].contains(tag) {
                    return String(block[newline...]).trimmingCharacters(in: .newlines) + "\n"
                }
            }
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }

    /// Checks a plan drafted for a free-text goal, written at `file`: the plan loader's checks
    /// (with file, line and field), then the goal's repository, base branch and risk, what a run
    /// can carry out with the builder `agents` names, no gates unless the goal allows the model to propose them,
    /// and no task scope outside the goal's `scope` unless it allows the model any scope.
    /// - Returns: The plan.
    /// - Throws: ``RoleError`` `invalidPlan` with every reason.
    static func plan(at file: String, goal: GoalDraft, agents: AgentSettings) throws(RoleError) -> Plan {
        let plan = try PlanLoader.load(path: file)
        var errors: [String] = []
        if FilePaths.absolute(plan.repository) != FilePaths.absolute(goal.repository) {
            errors.append("\(file): repository: must be \(goal.repository), got \(plan.repository)")
        }
        if plan.baseBranch != goal.baseBranch {
            errors.append("\(file): base_branch: must be \(goal.baseBranch), got \(plan.baseBranch)")
        }
        if let risk = goal.risk, plan.risk != risk {
            errors.append("\(file): risk: the goal was submitted with risk \(risk.rawValue), got \(plan.risk.rawValue)")
        }
        if !goal.allowModelGates {
            var gates: [String] = []
            for (key, list) in [("gates", plan.gates), ("preflight", plan.preflight), ("smoke", plan.smoke)]
            where !list.isEmpty {
                gates.append("\(key): " + list.map(\.name).joined(separator: ", "))
            }
            for (index, task) in plan.tasks.enumerated() where !task.gates.isEmpty {
                gates.append("tasks[\(index)].gates: " + task.gates.map(\.name).joined(separator: ", "))
            }
            if !gates.isEmpty {
                errors.append(
                    "\(file): the plan proposes gates (\(gates.joined(separator: "; "))), but gates come from "
                        + "people: the goal was not submitted with --allow-model-gates; leave gates, preflight, "
                        + "smoke and each task's gates out")
            }
        }
        let limit = goal.scopeLimit
        for (index, task) in plan.tasks.enumerated() {
            let outside = limit.escaping(task.scope)
            if !outside.isEmpty {
                errors.append(
                    "\(file): tasks[\(index)].scope: \(outside.joined(separator: ", ")) is outside the goal's scope "
                        + "\(limit.text): keep every task's scope inside it")
            }
        }
        errors += RunSupport.unsupported(plan, agents: agents).map { "\(file): \($0)" }
        guard errors.isEmpty else { throw RoleError(.invalidPlan, errors.joined(separator: "\n")) }
        return plan
    }
}
