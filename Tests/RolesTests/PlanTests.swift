import Bus
import FileFormats
import Foundation
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The smallest valid plan: one task, every optional field left out.
let minimalPlan = """
    version: 1
    name: demo
    goal: Show the plan format.
    risk: low
    repository: repo
    tasks:
      - id: a
        title: First
        prompt: Do a.
        scope: [src/a/**]

    """

@Suite("plan files: loading")
struct PlanTests {
    @Test("every field is read")
    func everyField() async throws {
        let folder = try await PlanFolder()
        let file = try folder.write(
            """
            version: 1
            name: shop search
            goal: |
              Add search to the shop.
              Keep it fast.
            risk: high
            repository: ./repo/../repo
            base_branch: release/2.0
            max_attempts: 5
            budget: {files: 20, lines: 400}
            gates:
              - name: build
                command: [swift, build]
              - name: test
                command: make test
                timeout: 90s
                protects: [Tests/**, "*.lock"]
            preflight:
              - {name: lint, command: "swift format lint -r Sources", timeout: 2m}
            smoke:
              - {name: smoke, command: [./smoke.sh, --fast], timeout: 250ms}
            tasks:
              - id: api
                title: Search endpoint
                prompt: Add GET /search.
                scope: [Sources/API/**, ./docs//API.md]
                gates:
                  - {name: test, command: [swift, test, --filter, API], timeout: 1h}
                  - {name: api-lint, command: ./lint-api}
                budget: {lines: 100}
                run: |
                  mkdir -p Sources/API
                  echo ok > Sources/API/Search.swift
                candidates: 2
                needs_approval: true
              - id: ui
                title: Search box
                prompt: Add the search box.
                scope: [Sources/UI/]
                depends_on: [api]
                budget: null
                run: null
            """)
        let plan = try PlanLoader.load(path: file)
        let build = Gate(name: "build", command: .argv(["swift", "build"]))
        let test = Gate(
            name: "test", command: .shell("make test"), timeout: .seconds(90), protects: ["Tests/**", "*.lock"])
        let apiTest = Gate(
            name: "test", command: .argv(["swift", "test", "--filter", "API"]), timeout: .seconds(3_600))
        let apiLint = Gate(name: "api-lint", command: .shell("./lint-api"))
        let expected = Plan(
            name: "shop search", goal: "Add search to the shop.\nKeep it fast.\n", risk: .high,
            repository: folder.repository, baseBranch: "release/2.0", gates: [build, test],
            preflight: [Gate(name: "lint", command: .shell("swift format lint -r Sources"), timeout: .seconds(120))],
            smoke: [Gate(name: "smoke", command: .argv(["./smoke.sh", "--fast"]), timeout: .milliseconds(250))],
            maxAttempts: 5, budget: PlanBudget(files: 20, lines: 400),
            tasks: [
                PlanTask(
                    id: "api", title: "Search endpoint", prompt: "Add GET /search.",
                    scope: ["Sources/API/**", "docs/API.md"], gates: [apiTest, apiLint], budget: PlanBudget(lines: 100),
                    run: "mkdir -p Sources/API\necho ok > Sources/API/Search.swift\n", candidates: 2,
                    needsApproval: true),
                PlanTask(
                    id: "ui", title: "Search box", prompt: "Add the search box.", scope: ["Sources/UI/**"],
                    dependsOn: ["api"]),
            ], file: file)
        #expect(plan == expected)
        #expect(plan.version == 1)
        #expect(plan.effectiveGates(for: plan.tasks[0]) == [build, apiTest, apiLint])
        #expect(plan.effectiveGates(for: plan.tasks[1]) == [build, test])
        #expect(plan.effectiveBudget(for: plan.tasks[0]) == PlanBudget(files: 20, lines: 100))
        #expect(plan.effectiveBudget(for: plan.tasks[1]) == PlanBudget(files: 20, lines: 400))
        #expect(plan.tasks[0].needsAgent == false)
        #expect(plan.tasks[1].needsAgent == true)
        #expect(plan.task("ui")?.title == "Search box")
        #expect(plan.task("nope") == nil)
    }

    @Test("left-out fields take their defaults")
    func defaults() async throws {
        let folder = try await PlanFolder()
        let plan = try PlanLoader.load(path: try folder.write(minimalPlan))
        #expect(plan.file == folder.path + "/plan.yaml")
        #expect(plan.repository == folder.repository)
        #expect(plan.baseBranch == "main")
        #expect(plan.gates.isEmpty && plan.preflight.isEmpty && plan.smoke.isEmpty)
        #expect(plan.maxAttempts == 3)
        #expect(plan.budget == PlanBudget())
        #expect(plan.budget.isUnlimited)
        let task = try #require(plan.tasks.first)
        #expect(task == PlanTask(id: "a", title: "First", prompt: "Do a.", scope: ["src/a/**"]))
        #expect(task.candidates == 1 && !task.needsApproval && task.run == nil && task.dependsOn.isEmpty)
    }

    @Test("a gate's timeout is 10 minutes and it protects nothing unless it says otherwise")
    func gateDefaults() async throws {
        let folder = try await PlanFolder()
        let plan = try PlanLoader.load(
            path: try folder.write(minimalPlan + "gates:\n  - name: t\n    command: [\"true\"]\n"))
        #expect(plan.gates == [Gate(name: "t", command: .argv(["true"]), timeout: .seconds(600), protects: [])])
        #expect(Gate.Command.shell("make test").arguments == ["/bin/sh", "-c", "make test"])
        #expect(Gate.Command.argv(["swift", "test"]).arguments == ["swift", "test"])
    }

    @Test("an absolute repository is kept; a relative one is resolved against the plan's folder")
    func repositoryPaths() async throws {
        let folder = try await PlanFolder()
        try FileManager.default.createDirectory(atPath: folder.path + "/plans", withIntermediateDirectories: true)
        let relative = minimalPlan.replacingOccurrences(of: "repository: repo", with: "repository: ../repo")
        let fromSubfolder = try PlanLoader.load(path: try folder.write(relative, name: "plans/p.yaml"))
        #expect(fromSubfolder.repository == folder.repository)
        let absolute = minimalPlan.replacingOccurrences(
            of: "repository: repo", with: "repository: \(folder.repository)/")
        #expect(try PlanLoader.load(path: try folder.write(absolute)).repository == folder.repository)
    }

    @Test("a relative plan path is resolved against the current directory")
    func relativePlanPath() async throws {
        let folder = try await PlanFolder()
        try folder.write(minimalPlan)
        let cwd = FileManager.default.currentDirectoryPath
        let relative = String(repeating: "../", count: cwd.split(separator: "/").count) + folder.path.dropFirst()
        let plan = try PlanLoader.load(path: relative + "/plan.yaml")
        #expect(plan.file == folder.path + "/plan.yaml")
        #expect(plan.repository == folder.repository)
    }

    @Test("a repository may be a worktree, whose .git is a file")
    func gitFile() async throws {
        let folder = try await PlanFolder()
        let worktree = folder.path + "/worktree"
        try FileManager.default.createDirectory(atPath: worktree, withIntermediateDirectories: true)
        try folder.write("gitdir: \(folder.repository)/.git\n", name: "worktree/.git")
        let text = minimalPlan.replacingOccurrences(of: "repository: repo", with: "repository: worktree")
        #expect(try PlanLoader.load(path: try folder.write(text)).repository == worktree)
    }

    @Test(
        "scope and protects globs are normalised",
        arguments: [
            ("src/**", "src/**"), ("./src/a.swift", "src/a.swift"), ("src//a/./b", "src/a/b"), ("docs/", "docs/**"),
            (".", "**"), ("./", "**"), ("\"*.md\"", "*.md"), ("'**/*.swift'", "**/*.swift"), (".github/x", ".github/x"),
        ])
    func globNormalisation(written: String, read: String) async throws {
        let folder = try await PlanFolder()
        let text =
            minimalPlan.replacingOccurrences(of: "[src/a/**]", with: "[\(written)]")
            + "gates:\n  - {name: g, command: x, protects: [\(written)]}\n"
        let plan = try PlanLoader.load(path: try folder.write(text))
        #expect(plan.tasks[0].scope == [read])
        #expect(plan.gates[0].protects == [read])
    }

    @Test("a missing file is notFound; a folder in its place is an invalid plan")
    func unreadable() async throws {
        let folder = try await PlanFolder()
        let missing = folder.path + "/none.yaml"
        let error = planError { () throws(RoleError) in _ = try PlanLoader.load(path: missing) }
        #expect(error == RoleError(.notFound, "no plan file at \(missing)"))
        let folderError = planError { () throws(RoleError) in _ = try PlanLoader.load(path: folder.repository) }
        #expect(folderError?.code == .invalidPlan)
        #expect(folderError?.message == "\(folder.repository): is a folder, not a file; give the path of a YAML file")
    }

    @Test("text that is not UTF-8 is an invalid plan")
    func notUTF8() async throws {
        let folder = try await PlanFolder()
        let file = folder.path + "/plan.yaml"
        try Data([0x6E, 0x61, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: file))
        let error = planError { () throws(RoleError) in _ = try PlanLoader.load(path: file) }
        #expect(
            error
                == RoleError(
                    .invalidPlan,
                    "\(file):1:3: not UTF-8 text: byte 0xFF (at byte 2) is not part of a UTF-8 character; save the file "
                        + "as UTF-8"))
    }

    @Test("parse reads text without a file, naming the file it is given")
    func parseText() async throws {
        let folder = try await PlanFolder()
        let plan = try PlanLoader.parse(minimalPlan, file: folder.path + "/virtual.yaml")
        #expect(plan.file == folder.path + "/virtual.yaml")
        #expect(plan.repository == folder.repository)
        let error = planError { () throws(RoleError) in
            _ = try PlanLoader.parse("version: 1\nnmae: x\n", file: folder.path + "/virtual.yaml")
        }
        #expect(error?.message.hasPrefix(folder.path + "/virtual.yaml:2:1: nmae: unknown key") == true)
    }

    @Test(
        "durations read and write back in the shortest exact form",
        arguments: [
            ("250ms", Duration.milliseconds(250), "250ms"), ("5s", .seconds(5), "5s"), ("90s", .seconds(90), "90s"),
            ("120s", .seconds(120), "2m"), ("2m", .seconds(120), "2m"), ("1h", .seconds(3_600), "1h"),
            ("1500ms", .milliseconds(1_500), "1500ms"), ("0s", .zero, "0s"), ("0ms", .zero, "0s"),
        ])
    func durations(text: String, duration: Duration, formatted: String) throws {
        #expect(try DurationText.parse(text) == duration)
        #expect(DurationText.format(duration) == formatted)
    }

    @Test(
        "malformed durations say what is expected",
        arguments: [
            ("5", "5 has no unit (write 5s for seconds or 5ms for milliseconds; units: ms, s, m, h)"),
            (
                "5x",
                "must be a duration such as 250ms, 5s, 2m or 1h (a whole number and one of ms, s, m, h), got \"5x\""
            ),
            (
                "-5s",
                "must be a duration such as 250ms, 5s, 2m or 1h (a whole number and one of ms, s, m, h), got \"-5s\""
            ),
            (
                "1.5s",
                "must be a duration such as 250ms, 5s, 2m or 1h (a whole number and one of ms, s, m, h), got \"1.5s\""
            ),
            ("", "must be a duration such as 250ms, 5s, 2m or 1h (a whole number and one of ms, s, m, h), got \"\""),
            ("99999999999999999999s", "\"99999999999999999999s\" is too long a duration"),
            ("9999999999999h", "\"9999999999999h\" is too long a duration"),
        ])
    func badDurations(text: String, message: String) {
        do {
            _ = try DurationText.parse(text)
            Issue.record("\(text) was read as a duration")
        } catch {
            #expect(error == FileFormatError(.invalidValue, message))
        }
    }
}
