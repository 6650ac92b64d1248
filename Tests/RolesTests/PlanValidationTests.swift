import Foundation
import Roles
import Testing

/// The first five lines of most plans below; `tasks:` is line 6.
let header = """
    version: 1
    name: demo
    goal: Show.
    risk: low
    repository: repo

    """

/// One task, `a`, on lines 7 to 10 when it follows `header` and `tasks:`.
let taskA = """
      - id: a
        title: A
        prompt: Do a.
        scope: [src/a/**]

    """

/// A plan with a mistake, and the error it gives after `FILE:`.
struct BadPlan: CustomTestStringConvertible, Sendable {
    let name: String
    let text: String
    let error: String

    var testDescription: String { name }
}

/// A task named `id` with its own scope and `extra` lines, five or more lines long.
func task(_ id: String, _ extra: String = "") -> String {
    "  - id: \(id)\n    title: \(id)\n    prompt: Do \(id).\n    scope: [\(id)/**]\n" + extra
}

let badPlans: [BadPlan] = [
    // Unknown fields, with the nearest known one.
    BadPlan(
        name: "unknown top-level key", text: header + "goals: more\ntasks:\n" + taskA,
        error: "6:1: goals: unknown key, did you mean \"goal\"? (known keys: version, name, goal, risk, repository, "
            + "base_branch, gates, preflight, smoke, max_attempts, circuit_breaker, budget, run_budget, tasks)"),
    BadPlan(
        name: "unknown task key", text: header + "tasks:\n" + taskA + "    depend_on: [b]\n",
        error: "11:5: tasks[0].depend_on: unknown key, did you mean \"depends_on\"? (known keys: id, title, prompt, "
            + "scope, depends_on, gates, budget, run, candidates, needs_approval)"),
    BadPlan(
        name: "unknown gate key",
        text: header + "gates:\n  - name: t\n    command: x\n    timout: 5s\ntasks:\n" + taskA,
        error:
            "9:5: gates[0].timout: unknown key, did you mean \"timeout\"? (known keys: name, command, timeout, protects)"
    ),
    BadPlan(
        name: "unknown budget key", text: header + "budget: {file: 3}\ntasks:\n" + taskA,
        error: "6:10: budget.file: unknown key, did you mean \"files\"? (known keys: files, lines)"),
    BadPlan(
        name: "unknown key with nothing near", text: header + "colour: red\ntasks:\n" + taskA,
        error: "6:1: colour: unknown key (known keys: version, name, goal, risk, repository, base_branch, gates, "
            + "preflight, smoke, max_attempts, circuit_breaker, budget, run_budget, tasks)"),

    // Wrong types and values.
    BadPlan(
        name: "version 2", text: header.replacingOccurrences(of: "version: 1", with: "version: 2") + "tasks:\n" + taskA,
        error: "1:10: version: must be 1 (the only version of the plan format), got 2"),
    BadPlan(
        name: "version as a string",
        text: header.replacingOccurrences(of: "version: 1", with: "version: \"1\"") + "tasks:\n" + taskA,
        error: "1:10: version: must be 1 (the only version of the plan format), got \"1\""),
    BadPlan(
        name: "misspelt risk",
        text: header.replacingOccurrences(of: "risk: low", with: "risk: hgih") + "tasks:\n" + taskA,
        error: "4:7: risk: must be one of low, medium or high, got \"hgih\"; did you mean \"high\"?"),
    BadPlan(
        name: "max_attempts as a word", text: header + "max_attempts: three\ntasks:\n" + taskA,
        error: "6:15: max_attempts: must be an integer from 1 to 20, got \"three\""),
    BadPlan(
        name: "max_attempts too high", text: header + "max_attempts: 21\ntasks:\n" + taskA,
        error: "6:15: max_attempts: must be an integer from 1 to 20, got 21"),
    BadPlan(
        name: "too many candidates", text: header + "tasks:\n" + taskA + "    candidates: 9\n",
        error: "11:17: tasks[0].candidates: must be an integer from 1 to 8, got 9"),
    BadPlan(
        name: "needs_approval not a bool", text: header + "tasks:\n" + taskA + "    needs_approval: maybe\n",
        error: "11:21: tasks[0].needs_approval: must be true or false, got \"maybe\""),
    BadPlan(
        name: "scope as a string",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "src/a/**"),
        error: "10:12: tasks[0].scope: must be a list such as [\"src/**\"], got \"src/a/**\""),
    BadPlan(
        name: "empty scope", text: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "[]"),
        error: "10:12: tasks[0].scope: must list at least one path glob the task may change, such as [\"src/**\"]"),
    BadPlan(
        name: "empty scope glob",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "[\"\"]"),
        error: "10:13: tasks[0].scope[0]: must be a non-empty line of text, got \"\""),
    BadPlan(
        name: "gate command as a mapping", text: header + "gates:\n  - name: t\n    command: {a: b}\ntasks:\n" + taskA,
        error: "8:14: gates[0].command: must be a list of words such as [swift, test] (run as it is) or a line such "
            + "as \"make test\" (run with /bin/sh -c), got a mapping"),
    BadPlan(
        name: "gate command without a program", text: header + "gates:\n  - name: t\n    command: []\ntasks:\n" + taskA,
        error: "8:14: gates[0].command: must name a program first: a list of words such as [swift, test] (run as it "
            + "is) or a line such as \"make test\" (run with /bin/sh -c)"),
    BadPlan(
        name: "gate as a string", text: header + "gates: [make test]\ntasks:\n" + taskA,
        error: "6:9: gates[0]: must be a gate: a mapping with name and command, got \"make test\""),
    BadPlan(
        name: "timeout without a unit",
        text: header + "gates:\n  - name: t\n    command: x\n    timeout: 5\ntasks:\n" + taskA,
        error:
            "9:14: gates[0].timeout: 5 has no unit (write 5s for seconds or 5ms for milliseconds; units: ms, s, m, h)"),
    BadPlan(
        name: "timeout too long",
        text: header + "gates:\n  - name: t\n    command: x\n    timeout: 25h\ntasks:\n" + taskA,
        error: "9:14: gates[0].timeout: must be a duration from 10ms to 24h, got 25h"),
    BadPlan(
        name: "budget of zero files", text: header + "budget: {files: 0}\ntasks:\n" + taskA,
        error: "6:17: budget.files: must be a whole number of at least 1, got 0"),
    BadPlan(
        name: "task budget as a number", text: header + "tasks:\n" + taskA + "    budget: 5\n",
        error: "11:13: tasks[0].budget: must be a mapping (key: value lines indented under it), got 5"),
    BadPlan(
        name: "tasks as a mapping", text: header + "tasks:\n  a: 1\n",
        error: "7:3: tasks: must be a list such as [{id: api, title: …, prompt: …, scope: [\"src/**\"]}], got a mapping"
    ),
    BadPlan(
        name: "a task as a string", text: header + "tasks:\n  - build it\n",
        error: "7:5: tasks[0]: must be a task: a mapping with id, title, prompt and scope, got \"build it\""),
    BadPlan(
        name: "invalid task id", text: header + "tasks:\n" + taskA.replacingOccurrences(of: "id: a", with: "id: -a"),
        error:
            "7:9: tasks[0].id: must be a task id: an ASCII letter or digit, then up to 63 ASCII letters, digits, _ and - (it names branches, files and bus fields), got "
            + "\"-a\""),
    BadPlan(
        name: "task id too long",
        text: header + "tasks:\n"
            + taskA.replacingOccurrences(of: "id: a", with: "id: " + String(repeating: "a", count: 65)),
        error:
            "7:9: tasks[0].id: must be a task id: an ASCII letter or digit, then up to 63 ASCII letters, digits, _ and - (it names branches, files and bus fields), got \""
            + String(repeating: "a", count: 65) + "\""),
    BadPlan(
        name: "invalid gate name", text: header + "gates:\n  - {name: \"unit tests\", command: x}\ntasks:\n" + taskA,
        error:
            "7:12: gates[0].name: must be a gate name: an ASCII letter or digit, then up to 63 ASCII letters, digits, _ "
            + "and - (it names branches, files and bus fields), got \"unit tests\""),
    BadPlan(
        name: "title of two lines",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "title: A", with: "title: \"A\\nB\""),
        error: "8:12: tasks[0].title: must be one line of text, got \"A\\nB\""),
    BadPlan(
        name: "empty prompt",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "prompt: Do a.", with: "prompt: \"  \""),
        error: "9:13: tasks[0].prompt: must be a non-empty string, got \"  \""),
    BadPlan(
        name: "base branch with a space", text: header + "base_branch: my branch\ntasks:\n" + taskA,
        error: "6:14: base_branch: must be a git branch name such as main or release/2.0 (no spaces, ~ ^ : ? * [ \\, "
            + "\"..\", \"@{\", and no part that starts with \".\" or ends with \".lock\"), got \"my branch\""),
    BadPlan(
        name: "the file is a list", text: "- a\n- b\n",
        error: "1:1: the plan must be a mapping of keys to values (such as version: 1), got a list"),

    // Duplicate keys, in the top mapping (found by YAML) and in a task.
    BadPlan(
        name: "duplicate top-level key", text: header + "risk: high\ntasks:\n" + taskA,
        error: "6:1: risk: duplicate key \"risk\" (first at line 4); write each key once"),
    BadPlan(
        name: "duplicate task key", text: header + "tasks:\n" + taskA + "    title: B\n",
        error: "11:5: tasks[0].title: duplicate key \"title\" (first at line 8); write each key once"),
    BadPlan(
        name: "duplicate gate name",
        text: header + "gates:\n  - {name: t, command: x}\n  - {name: t, command: y}\ntasks:\n"
            + taskA,
        error: "8:12: gates[1].name: duplicate gate name \"t\" (first at line 7); give each gate its own name"),
    BadPlan(
        name: "dependency listed twice", text: header + "tasks:\n" + task("a") + task("b", "    depends_on: [a, a]\n"),
        error: "15:21: tasks[1].depends_on[1]: \"a\" is listed twice (first at line 15)"),

    // Required fields.
    BadPlan(
        name: "missing task title",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "    title: A\n", with: ""),
        error: "7:5: tasks[0].title: missing; give the task a one-line title"),
    BadPlan(
        name: "missing scope",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "    scope: [src/a/**]\n", with: ""),
        error: "7:5: tasks[0].scope: missing; list the path globs the task may change, such as [\"src/**\"]"),
    BadPlan(
        name: "missing gate command", text: header + "smoke:\n  - name: s\ntasks:\n" + taskA,
        error: "7:5: smoke[0].command: missing; give the gate a command: a list such as [swift, test] or a shell line "
            + "such as \"make test\""),
    BadPlan(
        name: "missing goal", text: header.replacingOccurrences(of: "goal: Show.\n", with: "") + "tasks:\n" + taskA,
        error: "1:1: goal: missing; say what the plan is for"),

    // Empty plans.
    BadPlan(
        name: "empty file", text: "# nothing yet\n",
        error: "1:1: the plan is empty (a plan has at least version, name, goal, risk, repository and tasks; see "
            + "docs/PLAN.md)"),
    BadPlan(
        name: "no tasks key", text: header,
        error: "1:1: tasks: missing; list the plan's tasks (at least one)"),
    BadPlan(
        name: "an empty task list", text: header + "tasks: []\n",
        error: "6:8: tasks: the plan has no tasks; list at least one"),
    BadPlan(
        name: "a task list of nothing", text: header + "tasks:\n",
        error: "6:7: tasks: the plan has no tasks; list at least one"),

    // Task ids and dependencies.
    BadPlan(
        name: "duplicate task id", text: header + "tasks:\n" + task("a") + task("b") + task("a"),
        error: "15:9: tasks[2].id: duplicate task id \"a\" (first at line 7, tasks[0].id); give each task its own id"),
    BadPlan(
        name: "unknown dependency", text: header + "tasks:\n" + task("build") + task("a", "    depends_on: [bulid]\n"),
        error: "15:18: tasks[1].depends_on[0]: task \"a\" depends on \"bulid\", which is not a task of this plan; did "
            + "you mean \"build\"? (tasks: build, a)"),
    BadPlan(
        name: "a cycle of three",
        text: header + "tasks:\n" + task("a", "    depends_on: [b]\n")
            + task("b", "    depends_on: [c]\n") + task("c", "    depends_on: [a]\n"),
        error: "11:18: tasks[0].depends_on[0]: dependency cycle a → b → c → a; remove one of these dependencies"),
    BadPlan(
        name: "a cycle found from another task",
        text: header + "tasks:\n" + task("x", "    depends_on: [b]\n")
            + task("a", "    depends_on: [b]\n") + task("b", "    depends_on: [c]\n")
            + task("c", "    depends_on: [a]\n"),
        error: "16:18: tasks[1].depends_on[0]: dependency cycle a → b → c → a; remove one of these dependencies"),
    BadPlan(
        name: "a task depending on itself",
        text: header + "tasks:\n" + task("a") + task("b", "    depends_on: [a, b]\n"),
        error: "15:21: tasks[1].depends_on[1]: dependency cycle b → b; remove one of these dependencies"),

    // Scope globs that escape the repository.
    BadPlan(
        name: "absolute scope",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "[src/**, /etc/**]"),
        error:
            "10:21: tasks[0].scope[1]: \"/etc/**\" is an absolute path; globs are relative to the repository, such as "
            + "\"src/**\""),
    BadPlan(
        name: "scope going up",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "[../other/**]"),
        error: "10:13: tasks[0].scope[0]: \"../other/**\" has a \"..\" part, which could leave the repository; write "
            + "globs relative to the repository without \"..\""),
    BadPlan(
        name: "scope going up in the middle",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "[src/../../x]"),
        error: "10:13: tasks[0].scope[0]: \"src/../../x\" has a \"..\" part, which could leave the repository; write "
            + "globs relative to the repository without \"..\""),
    BadPlan(
        name: "protected path going up",
        text: header + "preflight:\n  - {name: p, command: x, protects: [a, ../b]}\ntasks:\n" + taskA,
        error: "7:41: preflight[0].protects[1]: \"../b\" has a \"..\" part, which could leave the repository; write "
            + "globs relative to the repository without \"..\""),

    // YAML mistakes.
    BadPlan(
        name: "an unquoted glob starting with *",
        text: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "[**/*.swift]"),
        error: "10:14: invalid YAML: did not find expected alphabetic or numeric character (while scanning an alias "
            + "at line 10, column 13); quote globs that start with * or &, such as \"**/*.swift\""),
    BadPlan(
        name: "bad indentation", text: header + "tasks:\n  - id: a\n   title: A\n",
        error: "8:4: invalid YAML: did not find expected '-' indicator (while parsing a block collection at line 7, "
            + "column 3)"),
    BadPlan(
        name: "tab indentation", text: header + "tasks:\n\t- id: a\n",
        error: "7:1: invalid YAML: found character that cannot start any token (while scanning for the next token at "
            + "line 7, column 1); YAML does not allow tabs for indentation: indent with spaces"),
    BadPlan(
        name: "an unterminated quote", text: "version: 1\nname: \"demo\ngoal: Show.\n",
        error: "2:7: invalid YAML: the quoted text that starts here is never closed (the file ends before its closing "
            + "quote)"),
    BadPlan(
        name: "a duplicate key in a gate",
        text: header + "gates:\n  - name: t\n    command: x\n    name: u\ntasks:\n" + taskA,
        error: "9:5: gates[0].name: duplicate key \"name\" (first at line 7); write each key once"),

    // Unicode: columns count characters, ids are ASCII.
    BadPlan(
        name: "a column after wide characters",
        text: header + "tasks:\n  - {title: \"日本語 🎉 é\", id: a, prompt: p, scope: [a], candidates: 9}\n",
        error: "7:66: tasks[0].candidates: must be an integer from 1 to 8, got 9"),
    BadPlan(
        name: "a task id that is not ASCII", text: header + "tasks:\n" + task("tâche"),
        error: "7:9: tasks[0].id: must be a task id: an ASCII letter or digit, then up to 63 ASCII letters, digits, _ "
            + "and - (it names branches, files and bus fields), got \"tâche\""),
    BadPlan(
        name: "a title with a C1 control character",
        text: header + "tasks:\n  - {id: a, title: \"a\\x85b\", prompt: p, scope: [a]}\n",
        error: "7:20: tasks[0].title: must be one line of text, got \"a\\x85b\""),

    // Values too long to repeat are cut.
    BadPlan(
        name: "a task id of 10,000 characters",
        text: header + "tasks:\n"
            + taskA.replacingOccurrences(of: "id: a", with: "id: " + String(repeating: "a", count: 10_000)),
        error: "7:9: tasks[0].id: must be a task id: an ASCII letter or digit, then up to 63 ASCII letters, digits, _ "
            + "and - (it names branches, files and bus fields), got \"" + String(repeating: "a", count: 80)
            + "…\" (10000 characters)"),
    BadPlan(
        name: "a dependency of 10,000 characters",
        text: header + "tasks:\n" + task("a", "    depends_on: [" + String(repeating: "b", count: 10_000) + "]\n"),
        error: "11:18: tasks[0].depends_on[0]: task \"a\" depends on \"" + String(repeating: "b", count: 80)
            + "…\" (10000 characters), which is not a task of this plan (tasks: a)"),
]

@Suite("plan files: validation")
struct PlanValidationTests {
    @Test("each mistake is an error naming the file, line, column and field", arguments: badPlans)
    func badPlan(_ bad: BadPlan) async throws {
        let folder = try await PlanFolder()
        let error = try folder.error(loading: bad.text)
        #expect(error?.code == .invalidPlan)
        #expect(error?.message == folder.path + "/plan.yaml:" + bad.error)
    }

    @Test("a repository that does not exist")
    func missingRepository() async throws {
        let folder = try await PlanFolder()
        let text = header.replacingOccurrences(of: "repository: repo", with: "repository: nowhere") + "tasks:\n" + taskA
        let error = try folder.error(loading: text)
        #expect(
            error?.message
                == "\(folder.path)/plan.yaml:5:13: repository: \(folder.path)/nowhere does not exist; name an existing "
                + "git repository")
    }

    @Test("a repository that is a file")
    func repositoryFile() async throws {
        let folder = try await PlanFolder()
        let text =
            header.replacingOccurrences(of: "repository: repo", with: "repository: plan.yaml") + "tasks:\n" + taskA
        let error = try folder.error(loading: text)
        #expect(
            error?.message
                == "\(folder.path)/plan.yaml:5:13: repository: \(folder.path)/plan.yaml is a file, not a folder; name a "
                + "git repository")
    }

    @Test("a repository that is not git (no .git in it)")
    func notGit() async throws {
        let folder = try await PlanFolder()
        let text = header.replacingOccurrences(of: "repository: repo", with: "repository: .") + "tasks:\n" + taskA
        let error = try folder.error(loading: text)
        #expect(
            error?.message
                == "\(folder.path)/plan.yaml:5:13: repository: \(folder.path) is not a git repository (it has no .git); "
                + "run git init there or name another folder")
    }

    @Test("a scope through a symbolic link out of the repository is refused; a link inside it is fine")
    func scopeThroughLink() async throws {
        let folder = try await PlanFolder()
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder.repository + "/src", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: folder.repository + "/out", withDestinationPath: folder.path)
        try fm.createSymbolicLink(atPath: folder.repository + "/src/up", withDestinationPath: "../..")
        try fm.createSymbolicLink(atPath: folder.repository + "/in", withDestinationPath: "src")
        try fm.createSymbolicLink(atPath: folder.repository + "/gone", withDestinationPath: "/nonexistent/x")
        let scoped = { (scope: String) in
            header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: scope)
        }
        #expect(try folder.error(loading: scoped("[in/**, \"src/*/x\", \"**/out/**\", missing/**]")) == nil)
        let cases = [
            (
                "[src/**, out/**]",
                "10:21: tasks[0].scope[1]: \"out/**\" goes through out, a symbolic link to \(folder.path)"
            ),
            ("[src/up/x.txt]", "10:13: tasks[0].scope[0]: \"src/up/x.txt\" goes through src/up, a symbolic link to"),
            ("[gone/**]", "10:13: tasks[0].scope[0]: \"gone/**\" goes through gone, a symbolic link to /nonexistent/x"),
        ]
        for (scope, says) in cases {
            let error = try folder.error(loading: scoped(scope))
            #expect(error?.code == .invalidPlan)
            #expect(
                error?.message.hasPrefix(folder.path + "/plan.yaml:" + says) == true, "\(error?.message ?? "no error")")
            #expect(error?.message.hasSuffix(", outside the repository; name paths inside the repository") == true)
        }
    }

    @Test("checks across fields come after every field is read: a bad field further down is reported first")
    func fieldsFirst() async throws {
        let folder = try await PlanFolder()
        let text = header + "tasks:\n" + task("a", "    depends_on: [nope]\n") + task("b", "    candidates: 0\n")
        let error = try folder.error(loading: text)
        #expect(
            error?.message
                == "\(folder.path)/plan.yaml:16:17: tasks[1].candidates: must be an integer from 1 to 8, got 0")
    }

    @Test("several candidates and needs_approval together, and a task without run, are valid")
    func allowedCombinations() async throws {
        let folder = try await PlanFolder()
        let plan = try PlanLoader.load(
            path: try folder.write(header + "tasks:\n" + taskA + "    candidates: 3\n    needs_approval: true\n"))
        #expect(plan.tasks[0].candidates == 3)
        #expect(plan.tasks[0].needsApproval)
        #expect(plan.tasks[0].needsAgent)
    }
}
