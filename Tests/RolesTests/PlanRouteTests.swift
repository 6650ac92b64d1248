import Bus
import Roles
import Testing

/// A task with a scope and dependencies, built by a run step.
func routeTask(_ id: String, _ scope: [String], after dependsOn: [String] = []) -> PlanTask {
    PlanTask(id: id, title: "Task \(id)", prompt: "Do \(id).", scope: scope, dependsOn: dependsOn, run: "true")
}

/// A plan of `tasks` without gates.
func routePlan(_ tasks: [PlanTask], risk: PlanRisk = .low) -> Plan {
    Plan(name: "p", goal: "g", risk: risk, repository: "/repo", tasks: tasks, file: "/plans/p.yaml")
}

@Suite("plan route")
struct PlanRouteTests {
    @Test("stages follow the risk", arguments: PlanRisk.allCases)
    func stages(risk: PlanRisk) {
        let expected: [PlanRoute.Stage]
        switch risk {
        case .low: expected = [.preflight, .build, .verify, .integrate, .smoke, .docs]
        case .medium: expected = [.preflight, .spec, .build, .verify, .integrate, .smoke, .docs]
        case .high: expected = [.preflight, .discovery, .spec, .build, .verify, .integrate, .smoke, .docs]
        }
        #expect(PlanRoute.stages(for: risk) == expected)
        #expect(PlanRoute(plan: routePlan([routeTask("a", ["a/**"])], risk: risk)).stages == expected)
    }

    @Test("independent tasks with separate scopes share the first wave")
    func independent() {
        let route = PlanRoute(
            plan: routePlan([routeTask("a", ["a/**"]), routeTask("b", ["b/**"]), routeTask("c", ["c.md"])]))
        #expect(route.waves == [["a", "b", "c"]])
        #expect(route.tasks.map(\.wave) == [1, 1, 1])
        #expect(route.tasks.allSatisfy { $0.overlapsWith.isEmpty })
    }

    @Test("a task comes after the waves of all its dependencies")
    func dependencies() {
        let route = PlanRoute(
            plan: routePlan([
                routeTask("d", ["d/**"], after: ["b", "c"]), routeTask("a", ["a/**"]),
                routeTask("b", ["b/**"], after: ["a"]),
                routeTask("c", ["c/**"]), routeTask("e", ["e/**"], after: ["c"]),
            ]))
        #expect(route.waves == [["a", "c"], ["b", "e"], ["d"]])
        #expect(route.tasks.map(\.wave) == [3, 1, 2, 1, 2])
        #expect(route.tasks[0].dependsOn == ["b", "c"])
    }

    @Test("tasks whose scopes overlap are never in the same wave; file order decides which goes first")
    func overlapSerialised() {
        let route = PlanRoute(
            plan: routePlan([
                routeTask("a", ["src/**"]), routeTask("b", ["src/b.swift"]), routeTask("c", ["docs/**"]),
                routeTask("d", ["src/d/**", "docs/d.md"]),
            ]))
        #expect(route.waves == [["a", "c"], ["b", "d"]])
        #expect(route.tasks.map(\.overlapsWith) == [["b", "d"], ["a"], ["d"], ["a", "c"]])
    }

    @Test("overlapping tasks ordered by dependencies, even through another task, are not listed as overlapping")
    func overlapOrderedByDependencies() {
        let route = PlanRoute(
            plan: routePlan([
                routeTask("a", ["src/**"]), routeTask("b", ["x/**"], after: ["a"]),
                routeTask("c", ["src/c"], after: ["b"]),
                routeTask("d", ["src/**"], after: ["a"]),
            ]))
        #expect(route.waves == [["a"], ["b", "d"], ["c"]])
        #expect(route.tasks.map(\.overlapsWith) == [[], [], ["d"], ["c"]])
    }

    @Test("a task goes in the earliest wave it can, even before a task earlier in the file")
    func earliestWave() {
        let route = PlanRoute(
            plan: routePlan([
                routeTask("a", ["x/**"]), routeTask("b", ["src/**"], after: ["a"]), routeTask("c", ["src/**"]),
            ]))
        #expect(route.waves == [["a", "c"], ["b"]])
        #expect(route.tasks.map(\.overlapsWith) == [[], ["c"], ["b"]])
    }

    @Test("the same plan always gives the same route, and it keeps every rule")
    func deterministic() {
        let tasks = (0..<40).map { i in
            routeTask("t\(i)", ["m\(i % 7)/**"], after: i >= 5 && i % 3 == 0 ? ["t\(i - 5)"] : [])
        }
        let first = PlanRoute(plan: routePlan(tasks))
        for _ in 0..<5 {
            #expect(PlanRoute(plan: routePlan(tasks)) == first)
        }
        let wave = Dictionary(uniqueKeysWithValues: first.tasks.map { ($0.id, $0.wave) })
        for task in first.tasks {
            #expect(task.dependsOn.allSatisfy { wave[$0, default: 0] < task.wave })
        }
        for ids in first.waves {
            let scopes = ids.compactMap { id in tasks.first { $0.id == id }?.scope.first }
            #expect(Set(scopes).count == ids.count, "wave \(ids) has two tasks with the same scope")
        }
        #expect(first.waves.flatMap { $0 }.count == 40)
    }

    @Test("500 tasks: all in one wave when disjoint, one per wave when they all overlap")
    func large() {
        let disjoint = PlanRoute(plan: routePlan((0..<500).map { routeTask("t\($0)", ["m\($0)/**"]) }))
        #expect(disjoint.waves.count == 1)
        #expect(disjoint.waves.first?.count == 500)
        let shared = PlanRoute(plan: routePlan((0..<500).map { routeTask("t\($0)", ["src/**"]) }))
        #expect(shared.waves.count == 500)
        #expect(shared.tasks.map(\.wave) == Array(1...500))
    }

    @Test("each task lists its effective gates and budget, and whether it is judged, approved, or built by an agent")
    func taskDetails() {
        var plan = examplePlan()
        plan.tasks[0].gates = [Gate(name: "extra", command: .argv(["make", "extra"]))]
        let route = PlanRoute(plan: plan)
        let test = Gate(name: "test", command: .argv(["swift", "test"]))
        #expect(route.tasks[0].gates == [test, Gate(name: "extra", command: .argv(["make", "extra"]))])
        #expect(route.tasks[1].gates == [plan.tasks[1].gates[0]])
        #expect(route.tasks[0].budget == PlanBudget(files: 10, lines: 200))
        #expect(route.tasks[1].budget == PlanBudget(files: 10, lines: 50))
        #expect(route.tasks.map(\.candidates) == [2, 1, 1, 1])
        #expect(route.tasks.map(\.needsApproval) == [false, true, false, false])
        #expect(route.tasks.map(\.needsAgent) == [false, true, false, false])
        #expect(route.tasks.map(\.title) == ["Search endpoint", "Search box", "Readme", "Docs"])
    }

    @Test("the text lists the plan, stages, waves, each task and the gates")
    func text() {
        let expected = #"""
            Plan "shop search", risk medium, from /plans/shop.yaml
            Goal: Add search. Keep it fast.
            Repository: /work/shop, base branch main
            Stages: preflight → spec → build → verify → integrate → smoke → docs
            Attempts: up to 3 per task (the first try and 2 re-verifications)
            Circuit breaker: the run halts after 3 task failures in a row
            Budget per task: 10 files, 200 lines
            Budget of the run: no limit

            Preflight gates (once, before any task; a failure halts the run):
              lint: /bin/sh -c 'make lint' (timeout 2m; must not change Sources/**)

            Wave 1: api, ui
            Wave 2: readme, final

            Task api (wave 1): Search endpoint
              scope: Sources/API/**
              not in the same wave as: readme (scopes may overlap)
              built by: its run step
              design competition: 2 candidates; the judge picks one
              budget: 10 files, 200 lines
              gates:
                test: swift test (timeout 10m)

            Task ui (wave 1): Search box
              scope: Sources/UI/**
              not in the same wave as: readme (scopes may overlap)
              built by: the builder's agent (the task has no run step; refused while the builder is offline)
              needs approval: a person approves it before integration
              budget: 10 files, 50 lines
              gates:
                test: /bin/sh -c 'swift test --filter '\''UI tests'\''' (timeout 90s)

            Task readme (wave 2): Readme
              scope: README.md, Sources/**/*.md
              not in the same wave as: api, ui (scopes may overlap)
              built by: its run step
              budget: 10 files, 200 lines
              gates:
                test: swift test (timeout 10m)

            Task final (wave 2): Docs
              scope: docs/**
              after: api, ui (depends on)
              built by: its run step
              budget: 10 files, 200 lines
              gates:
                test: swift test (timeout 10m)

            Smoke gates (once, on the integration branch, after all tasks):
              none

            """#
        #expect(PlanRoute(plan: examplePlan()).text == expected)
    }

    @Test("the text says when there is no budget and one attempt")
    func textLimits() {
        var plan = routePlan([routeTask("a", ["a/**"])])
        plan.maxAttempts = 1
        let text = PlanRoute(plan: plan).text
        #expect(text.contains("\nAttempts: up to 1 per task (the first try and 0 re-verifications)\n"))
        #expect(text.contains("\nBudget per task: no limit\n"))
        #expect(text.contains("\n  budget: no limit\n  gates:\n    none\n"))
    }

    @Test("the JSON has the plan, stages, waves and tasks, and reads back")
    func json() throws {
        let json = PlanRoute(plan: examplePlan()).json
        #expect(json["name"] == "shop search")
        #expect(json["risk"] == "medium")
        #expect(json["version"] == 1)
        #expect(json["max_attempts"] == 3)
        #expect(json["budget"] == ["files": 10, "lines": 200])
        #expect(json["stages"] == ["preflight", "spec", "build", "verify", "integrate", "smoke", "docs"])
        #expect(json["waves"] == [["api", "ui"], ["readme", "final"]])
        #expect(json["smoke"] == [])
        #expect(
            json["preflight"]
                == [
                    [
                        "name": "lint", "command": ["shell": "make lint"], "timeout": "2m", "timeout_ms": 120_000,
                        "protects": ["Sources/**"],
                    ]
                ])
        let ui = try #require(json["tasks"]?.arrayValue?[1])
        #expect(
            ui
                == [
                    "id": "ui", "title": "Search box", "wave": 1, "depends_on": [], "overlaps_with": ["readme"],
                    "scope": ["Sources/UI/**"],
                    "gates": [
                        [
                            "name": "test", "command": ["shell": "swift test --filter 'UI tests'"], "timeout": "90s",
                            "timeout_ms": 90_000, "protects": [],
                        ]
                    ],
                    "budget": ["files": 10, "lines": 50], "candidates": 1, "needs_approval": true, "needs_agent": true,
                ])
        let api = try #require(json["tasks"]?.arrayValue?[0])
        #expect(api["gates"]?.arrayValue?[0]["command"] == ["argv": ["swift", "test"]])
        #expect(api["budget"] == ["files": 10, "lines": 200])
        #expect(json["tasks"]?.arrayValue?[3]["depends_on"] == ["api", "ui"])
        #expect(PlanRoute(plan: routePlan([routeTask("a", ["a"])])).json["budget"] == ["files": nil, "lines": nil])
        #expect(try JSONValue.parse(json.serialized()) == json)
    }
}

/// A medium-risk plan of four tasks: two independent ones, one whose scope overlaps both, and one
/// that depends on the first two.
func examplePlan() -> Plan {
    let test = Gate(name: "test", command: .argv(["swift", "test"]))
    return Plan(
        name: "shop search", goal: "Add search.\nKeep it fast.", risk: .medium, repository: "/work/shop",
        gates: [test],
        preflight: [Gate(name: "lint", command: .shell("make lint"), timeout: .seconds(120), protects: ["Sources/**"])],
        budget: PlanBudget(files: 10, lines: 200),
        tasks: [
            PlanTask(
                id: "api", title: "Search endpoint", prompt: "Add it.", scope: ["Sources/API/**"], run: "make api",
                candidates: 2),
            PlanTask(
                id: "ui", title: "Search box", prompt: "Add it.", scope: ["Sources/UI/**"],
                gates: [Gate(name: "test", command: .shell("swift test --filter 'UI tests'"), timeout: .seconds(90))],
                budget: PlanBudget(lines: 50), needsApproval: true),
            PlanTask(
                id: "readme", title: "Readme", prompt: "Write it.", scope: ["README.md", "Sources/**/*.md"], run: "true"
            ),
            PlanTask(
                id: "final", title: "Docs", prompt: "Write them.", scope: ["docs/**"], dependsOn: ["api", "ui"],
                run: "true"),
        ], file: "/plans/shop.yaml")
}
