import FileFormats
import Yams

/// Walks the YAML node tree of a plan file, checking each field as it goes.
struct PlanReader {
    /// A key and its value in a mapping.
    struct Entry {
        let key: String
        let keyNode: Node
        let value: Node
        /// The path of the value, such as `tasks[1].scope[0]`.
        let field: String
    }

    /// Where a value was written, for the checks across fields.
    struct Place {
        /// `FILE:LINE:COLUMN`.
        let location: String
        /// The field path, such as `tasks[1].id`.
        let field: String
        /// The line, for messages that point back at it.
        let line: Int
    }

    /// Where a task's id and dependencies were written.
    struct TaskPlaces {
        var id: Place
        var dependsOn: [Place]
        /// Where each glob of the task's scope was written.
        var scope: [Place] = []
    }

    /// A plan as read, with the places the checks across fields point at.
    struct Read {
        var plan: Plan
        var repository: Place
        var tasks: [TaskPlaces]
    }

    static let topKeys = [
        "version", "name", "goal", "risk", "repository", "base_branch", "gates", "preflight", "smoke", "max_attempts",
        "circuit_breaker", "budget", "run_budget", "tasks",
    ]
    static let taskKeys = [
        "id", "title", "prompt", "scope", "depends_on", "gates", "budget", "run", "candidates", "needs_approval",
    ]
    static let gateKeys = ["name", "command", "timeout", "protects"]
    static let budgetKeys = ["files", "lines"]
    static let runBudgetKeys = ["files", "lines", "attempts"]
    static let timeoutRange = Duration.milliseconds(10)...Duration.seconds(86_400)

    let file: String
    let folder: String

    func read(_ root: Node?) throws(RoleError) -> Read {
        guard let root, !isNull(root) else {
            throw RoleError(
                .invalidPlan,
                "\(file):1:1: the plan is empty (a plan has at least version, name, goal, risk, repository and "
                    + "tasks; see docs/PLAN.md)")
        }
        guard case .mapping = root else {
            throw RoleError(
                .invalidPlan,
                "\(location(root)): the plan must be a mapping of keys to values (such as version: 1), got "
                    + describe(root))
        }
        var plan = Plan(name: "", goal: "", risk: .low, repository: "", tasks: [], file: file)
        var repository = place(root, "repository")
        var tasks: Entry?
        var places: [TaskPlaces] = []
        let all = try entries(root, "", known: Self.topKeys)
        for entry in all {
            switch entry.key {
            case "version":
                guard hasTag(entry.value, .int), entry.value.int == Plan.currentVersion else {
                    throw fail(entry, "must be 1 (the only version of the plan format), got \(describe(entry.value))")
                }
            case "name": plan.name = try string(entry, oneLine: true)
            case "goal": plan.goal = try string(entry)
            case "risk":
                let risk = try choice(entry, PlanRisk.allCases.map(\.rawValue))
                plan.risk = PlanRisk(rawValue: risk) ?? .high
            case "repository":
                plan.repository = FilePaths.resolve(try string(entry, oneLine: true), against: folder)
                repository = place(entry.value, entry.field)
            case "base_branch": plan.baseBranch = try branch(entry)
            case "gates": plan.gates = try gates(entry)
            case "preflight": plan.preflight = try gates(entry)
            case "smoke": plan.smoke = try gates(entry)
            case "max_attempts": plan.maxAttempts = try int(entry, Plan.maxAttemptsRange)
            case "circuit_breaker": plan.circuitBreaker = try int(entry, Plan.circuitBreakerRange)
            case "budget": plan.budget = try budget(entry)
            case "run_budget": plan.runBudget = try runBudget(entry)
            default:
                tasks = entry
                for item in try items(entry, example: "[{id: api, title: …, prompt: …, scope: [\"src/**\"]}]") {
                    let (task, taskPlaces) = try task(item)
                    plan.tasks.append(task)
                    places.append(taskPlaces)
                }
            }
        }
        try require(
            [
                ("version", "write version: 1 (the version of the plan format)"),
                ("name", "give the plan a one-line name"),
                ("goal", "say what the plan is for"),
                ("risk", "write risk: low, medium or high"),
                ("repository", "name the git repository the plan changes (absolute, or relative to this file)"),
                ("tasks", "list the plan's tasks (at least one)"),
            ], in: all, of: root, "")
        if let tasks, plan.tasks.isEmpty {
            throw fail(tasks, "the plan has no tasks; list at least one")
        }
        return Read(plan: plan, repository: repository, tasks: places)
    }

    // MARK: Tasks

    func task(_ item: Entry) throws(RoleError) -> (PlanTask, TaskPlaces) {
        guard case .mapping = item.value else {
            throw fail(item, "must be a task: a mapping with id, title, prompt and scope, got \(describe(item.value))")
        }
        var task = PlanTask(id: "", title: "", prompt: "", scope: [])
        var places = TaskPlaces(id: place(item.value, item.field + ".id"), dependsOn: [])
        let all = try entries(item.value, item.field, known: Self.taskKeys)
        for entry in all {
            switch entry.key {
            case "id":
                task.id = try name(entry, what: "a task id")
                places.id = place(entry.value, entry.field)
            case "title": task.title = try string(entry, oneLine: true)
            case "prompt": task.prompt = try string(entry)
            case "scope":
                task.scope = try globs(entry)
                places.scope = try items(entry, example: "").map { place($0.value, $0.field) }
                if task.scope.isEmpty {
                    throw fail(entry, "must list at least one path glob the task may change, such as [\"src/**\"]")
                }
            case "depends_on":
                var seen: [String: Int] = [:]
                for dependency in try items(entry, example: "[api]") {
                    let id = try string(dependency, oneLine: true)
                    if let line = seen[id] {
                        throw fail(
                            dependency,
                            "\(QuotedText.quoted(id, cutAt: Self.shownLength)) is listed twice (first at line \(line))")
                    }
                    seen[id] = dependency.value.mark?.line ?? 0
                    task.dependsOn.append(id)
                    places.dependsOn.append(place(dependency.value, dependency.field))
                }
            case "gates": task.gates = try gates(entry)
            case "budget": task.budget = try budget(entry)
            case "run": task.run = isNull(entry.value) ? nil : try string(entry)
            case "candidates": task.candidates = try int(entry, Plan.candidatesRange)
            default: task.needsApproval = try bool(entry)
            }
        }
        try require(
            [
                ("id", "give the task an id such as build-api"),
                ("title", "give the task a one-line title"),
                ("prompt", "give the task a prompt (the instruction for an agent)"),
                ("scope", "list the path globs the task may change, such as [\"src/**\"]"),
            ], in: all, of: item.value, item.field)
        return (task, places)
    }

    // MARK: Gates

    func gates(_ entry: Entry) throws(RoleError) -> [Gate] {
        var gates: [Gate] = []
        var lines: [String: Int] = [:]
        for item in try items(entry, example: "[{name: test, command: [swift, test]}]") {
            let (gate, name) = try gate(item)
            if let line = lines[gate.name] {
                throw fail(
                    name,
                    "duplicate gate name \(QuotedText.quoted(gate.name)) (first at line \(line)); give each gate its own "
                        + "name")
            }
            lines[gate.name] = name.value.mark?.line ?? 0
            gates.append(gate)
        }
        return gates
    }

    /// A gate, and the entry of its name.
    func gate(_ item: Entry) throws(RoleError) -> (Gate, Entry) {
        guard case .mapping = item.value else {
            throw fail(item, "must be a gate: a mapping with name and command, got \(describe(item.value))")
        }
        var gate = Gate(name: "", command: .argv([]))
        var nameEntry = item
        let all = try entries(item.value, item.field, known: Self.gateKeys)
        for entry in all {
            switch entry.key {
            case "name":
                gate.name = try name(entry, what: "a gate name")
                nameEntry = entry
            case "command": gate.command = try command(entry)
            case "timeout": gate.timeout = try duration(entry, Self.timeoutRange)
            default: gate.protects = try globs(entry)
            }
        }
        try require(
            [
                ("name", "give the gate a name such as test"),
                (
                    "command",
                    "give the gate a command: a list such as [swift, test] or a shell line such as \"make test\""
                ),
            ], in: all, of: item.value, item.field)
        return (gate, nameEntry)
    }

    func command(_ entry: Entry) throws(RoleError) -> Gate.Command {
        let expected =
            "a list of words such as [swift, test] (run as it is) or a line such as \"make test\" (run with /bin/sh -c)"
        switch entry.value {
        case .sequence:
            var words: [String] = []
            for item in try items(entry, example: "[swift, test]") {
                words.append(try string(item, allowEmpty: true))
            }
            guard let program = words.first, !program.isEmpty else {
                throw fail(entry, "must name a program first: \(expected)")
            }
            return .argv(words)
        case .scalar where !isNull(entry.value):
            return .shell(try string(entry))
        default:
            throw fail(entry, "must be \(expected), got \(describe(entry.value))")
        }
    }

    // MARK: Other values

    func budget(_ entry: Entry) throws(RoleError) -> PlanBudget {
        var budget = PlanBudget()
        for item in try entries(entry.value, entry.field, known: Self.budgetKeys) {
            let limit = isNull(item.value) ? nil : try int(item, 1...Int.max)
            if item.key == "files" { budget.files = limit } else { budget.lines = limit }
        }
        return budget
    }

    func runBudget(_ entry: Entry) throws(RoleError) -> RunBudget {
        var budget = RunBudget()
        for item in try entries(entry.value, entry.field, known: Self.runBudgetKeys) {
            let limit = isNull(item.value) ? nil : try int(item, 1...Int.max)
            switch item.key {
            case "files": budget.files = limit
            case "lines": budget.lines = limit
            default: budget.attempts = limit
            }
        }
        return budget
    }

    /// Path globs relative to the repository, each normalised: `.` and empty segments dropped,
    /// and a trailing `/` written as `/**`.
    func globs(_ entry: Entry) throws(RoleError) -> [String] {
        var globs: [String] = []
        for item in try items(entry, example: "[\"src/**\"]") {
            let text = try string(item, oneLine: true)
            if text.hasPrefix("/") {
                throw fail(
                    item,
                    "\(QuotedText.quoted(text, cutAt: Self.shownLength)) is an absolute path; globs are relative to the repository, such as "
                        + "\"src/**\"")
            }
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            if parts.contains("..") {
                throw fail(
                    item,
                    "\(QuotedText.quoted(text, cutAt: Self.shownLength)) has a \"..\" part, which could leave the repository; write globs "
                        + "relative to the repository without \"..\"")
            }
            var kept = parts.filter { $0 != "." && !$0.isEmpty }.map(String.init)
            if text.hasSuffix("/") || kept.isEmpty { kept.append("**") }
            globs.append(kept.joined(separator: "/"))
        }
        return globs
    }

    /// A task id or gate name: a letter or digit, then up to 63 letters, digits, `_` and `-`.
    func name(_ entry: Entry, what: String) throws(RoleError) -> String {
        let text = try string(entry, oneLine: true)
        guard Self.isName(text) else {
            throw fail(
                entry,
                "must be \(what): an ASCII letter or digit, then up to 63 ASCII letters, digits, _ and - (it names "
                    + "branches, files and bus fields), got \(describe(entry.value))"
            )
        }
        return text
    }

    static func isName(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        let alphanumeric = { (c: Unicode.Scalar) in
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
        }
        guard let first = scalars.first, alphanumeric(first), scalars.count <= 64 else { return false }
        return scalars.allSatisfy { alphanumeric($0) || $0 == "_" || $0 == "-" }
    }

    func branch(_ entry: Entry) throws(RoleError) -> String {
        let text = try string(entry, oneLine: true)
        guard Self.isBranchName(text) else {
            throw fail(
                entry,
                "must be a git branch name such as main or release/2.0 (no spaces, ~ ^ : ? * [ \\, \"..\", \"@{\", "
                    + "and no part that starts with \".\" or ends with \".lock\"), got \(describe(entry.value))")
        }
        return text
    }

    /// Whether `text` is a valid git branch name (the rules of `git check-ref-format --branch`).
    static func isBranchName(_ text: String) -> Bool {
        guard !text.isEmpty, text != "@", PlanText.isOneLine(text), !text.hasPrefix("-"), !text.contains(".."),
            !text.contains("@{"), !text.hasSuffix(".")
        else { return false }
        let forbidden = Set(" ~^:?*[\\".unicodeScalars)
        guard !text.unicodeScalars.contains(where: { forbidden.contains($0) }) else { return false }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        return parts.allSatisfy { !$0.isEmpty && !$0.hasPrefix(".") && !$0.hasSuffix(".lock") }
    }

    /// The place of `node`, named `field`.
    func place(_ node: Node, _ field: String) -> Place {
        Place(location: location(node), field: field, line: node.mark?.line ?? 0)
    }
}
