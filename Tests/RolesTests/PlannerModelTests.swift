import Bus
import BusTesting
import Foundation
import Roles
import Testing

@testable import Roles

/// The planner's fold for what agents add: cost limits, follow-up tasks, and a free-text goal's
/// questions, spec and plan tries; and the checks of the model's answers.
@Suite("Planner with a model")
struct PlannerModelTests {
    let worker = try! WorkerID(role: "verifier", host: "h", pid: 1, incarnation: "0123abcd")

    func plan(_ tasks: [PlanTask], runBudget: RunBudget = RunBudget()) -> Plan {
        var plan = Plan(name: "p", goal: "g", risk: .low, repository: "/tmp/repo", tasks: tasks, file: "/tmp/plan.yaml")
        plan.runBudget = runBudget
        return plan
    }

    func task(_ id: String, _ scope: String, after: [String] = []) -> PlanTask {
        PlanTask(id: id, title: id, prompt: "do \(id)", scope: [scope], dependsOn: after, run: "true")
    }

    func usage(_ role: String, _ cost: Double?) -> JSONValue {
        ["role": .string(role), "cost_usd": cost.map(JSONValue.number) ?? .null, "cost_source": "reported"]
    }

    /// A verdict envelope on `task`'s attempt, as the fold reads it.
    func verdict(
        _ task: String, attempt: Int = 1, approved: Bool = true, integrated: String? = nil,
        followups: [JSONValue] = [], usage: [JSONValue] = []
    ) -> Envelope {
        var body: [String: JSONValue] = [
            "attempt": .number(Double(attempt)), "approved": .bool(approved),
            "integrated": integrated.map(JSONValue.string) ?? .null, "commit": .string("c-\(task)"), "feedback": "no",
            "diff": ["files": 1, "insertions": 2, "deletions": 0],
        ]
        if !followups.isEmpty { body["followups"] = .array(followups) }
        if !usage.isEmpty { body["usage"] = .array(usage) }
        return Envelope(
            run: "r", task: task, kind: RunMessages.verdict, from: worker, to: "planner", attempt: attempt, body: body)
    }

    /// Folds `envelope` as the planner does: its cost, its follow-ups, then the input.
    func fold(_ state: inout RunState, _ envelope: Envelope) -> [RunAction] {
        state.account(envelope)
        return RunInput(envelope).map { state.apply($0) } ?? state.settle()
    }

    func builds(_ actions: [RunAction]) -> [String] {
        actions.compactMap {
            guard case .build(let b) = $0 else { return nil }
            return "\(b.task).\(b.attempt)"
        }
    }

    @Test("costs add up per role; past max_cost_usd the run halts with the totals; a role over its own limit too")
    func costLimits() {
        var state = RunState(run: "r", plan: plan([task("a", "a/**"), task("b", "b/**", after: ["a"])]))
        state.costLimits = CostLimits(run: 10)
        _ = state.start()
        let first = fold(
            &state, verdict("a", integrated: "m-a", usage: [usage("builder", 5.1), usage("verifier", 1.3)]))
        #expect(first.contains(.changelog(task: "a", commit: "m-a", attempts: 1)))
        #expect(builds(first) == ["b.1"])
        #expect(state.halted == nil)
        let documented = Envelope(
            run: "r", task: "a", kind: RunMessages.documented, from: worker, to: "planner",
            body: ["usage": .array([usage("docs", nil)])])
        #expect(fold(&state, documented).isEmpty)
        #expect(state.cost.records == 3)
        _ = fold(&state, verdict("b", approved: false, usage: [usage("builder", 4.0), usage("verifier", 2.0)]))
        #expect(state.halted == "run cost $12.40 exceeds max_cost_usd $10.00 (builder $9.10, verifier $3.30)")
        #expect(state.json["cost_usd"] == .number(12.4))
        #expect(state.json["cost_usd_by_role"]?["builder"] == .number(9.1))
        // Halted: the rejected task is not retried, and the run ends.
        #expect(state.isFinished)

        // The builder's calls reach the planner relayed in the verdict.
        var relayed = RunState(run: "r", plan: plan([task("a", "a/**")]))
        relayed.costLimits = CostLimits(run: 3)
        _ = relayed.start()
        var withBuild = verdict("a", approved: false, usage: [usage("verifier", 0.5)])
        withBuild.body["relayed_usage"] = [usage("builder", 2.75)]
        _ = fold(&relayed, withBuild)
        #expect(relayed.halted == "run cost $3.25 exceeds max_cost_usd $3.00 (builder $2.75, verifier $0.50)")

        var perRole = RunState(run: "r", plan: plan([task("a", "a/**")]))
        perRole.costLimits = CostLimits(run: 100, roles: ["builder": 2])
        _ = perRole.start()
        _ = fold(&perRole, verdict("a", approved: false, usage: [usage("builder", 2.5)]))
        #expect(perRole.halted == "builder cost $2.50 exceeds the role's max_cost_usd $2.00 (builder $2.50)")
        // Offline: no usage, no cost in status.json.
        var offline = RunState(run: "r", plan: plan([task("a", "a/**")]))
        _ = offline.start()
        _ = fold(&offline, verdict("a", integrated: "m-a"))
        #expect(offline.json["cost_usd"] == nil)
    }

    @Test("a verdict's follow-ups become tasks after their origin; over the run budget they are dropped with why")
    func followups() {
        // Without a run step, a follow-up needs a builder that drives an agent.
        var offline = RunState(run: "r", plan: plan([task("a", "src/a/**")]))
        _ = offline.start()
        _ = fold(&offline, verdict("a", integrated: "m-a", followups: [["title": "add tests", "prompt": "test a"]]))
        #expect(offline.plan.tasks.map(\.id) == ["a"])
        #expect(
            offline.droppedFollowups == [
                "a: add tests: not added: it has no run step, and the builder drives no agent"
            ])

        var state = RunState(run: "r", plan: plan([task("a", "src/a/**")]))
        state.builderAgent = true
        _ = state.start()
        let actions = fold(
            &state,
            verdict(
                "a", integrated: "m-a",
                followups: [
                    ["title": "add tests", "prompt": "test a"],
                    ["title": "docs", "prompt": "document a", "scope": ["docs/**"]],
                    ["title": "bad", "prompt": "escape", "scope": ["../x"]],
                    ["prompt": "no title"],
                ]))
        #expect(state.plan.tasks.map(\.id) == ["a", "a-f1", "a-f2", "a-f3"])
        #expect(state.plan.task("a-f1")?.scope == ["src/a/**"])
        #expect(state.plan.task("a-f2")?.scope == ["docs/**"])
        #expect(state.plan.task("a-f3")?.scope == ["src/a/**"])
        #expect(state.plan.task("a-f1")?.dependsOn == ["a"])
        // a is integrated by the same verdict, so its follow-ups are released at once
        // (a-f3 overlaps a-f1's scope and waits).
        #expect(builds(actions) == ["a-f1.1", "a-f2.1"])
        let json = state.json["tasks"]?.arrayValue ?? []
        #expect(json.first { $0["id"] == "a-f2" }?["followup_of"] == "a")
        // A verdict that does not fit (a is no longer in flight) adds nothing.
        _ = fold(&state, verdict("a", integrated: "m-a", followups: [["title": "again", "prompt": "x"]]))
        #expect(state.plan.tasks.count == 4)

        var tight = RunState(run: "r", plan: plan([task("a", "a/**")], runBudget: RunBudget(attempts: 2)))
        tight.builderAgent = true
        _ = tight.start()
        _ = fold(
            &tight,
            verdict(
                "a", integrated: "m-a",
                followups: [["title": "one", "prompt": "x"], ["title": "two", "prompt": "y"]]))
        #expect(tight.plan.tasks.map(\.id) == ["a", "a-f1"])
        #expect(tight.droppedFollowups.count == 1)
        #expect(tight.droppedFollowups.first?.contains("a: two: not added: run_budget attempts 2") == true)
        #expect(tight.json["followups_dropped"]?.arrayValue?.count == 1)
    }

    @Test("the model's answers are checked: spec sections, the plan block, questions kept")
    func checks() throws {
        let full = DraftCheck.specSections.map { "## \($0)\n\ntext" }.joined(separator: "\n\n")
        #expect(DraftCheck.missingSections(in: full).isEmpty)
        #expect(DraftCheck.missingSections(in: "# Spec\n## Repo awareness proof\n## Contracts\n").count == 6)
        #expect(DraftCheck.missingSections(in: "Gates and contracts mentioned in prose only").count == 8)

        let answer = "Here it is:\n```yaml\nversion: 1\nname: x\n```\nand more ```text\nnot this\n```"
        #expect(DraftCheck.planBlock(in: answer) == "version: 1\nname: x\n")
        #expect(DraftCheck.planBlock(in: "{\"version\": 1}") == "{\"version\": 1}\n")

        let five: JSONValue = ["questions": ["a", "b", " ", "c", "d", "e"]]
        #expect(try DraftCheck.questions(in: five, text: "", limit: 4) == ["a", "b", "c", "d"])
        #expect(try DraftCheck.questions(in: nil, text: "{\"questions\": [\"q\"]}", limit: 2) == ["q"])
        #expect(throws: RoleError.self) { try DraftCheck.questions(in: nil, text: "what?", limit: 2) }
    }

    @Test("a drafted plan is checked like a submitted one, and refused with gates the goal does not allow")
    func draftedPlanChecks() async throws {
        let root = try TemporaryBus(roles: []).root
        let repo = root + "/repo"
        try FileManager.default.createDirectory(atPath: repo + "/.git", withIntermediateDirectories: true)
        let goal = try GoalDraft(
            goal: RunSubmission.goal(
                text: "say hi", options: .init(repository: repo), run: "r", worker: worker))
        let file = root + "/plan.yaml"
        func write(_ text: String) throws { try text.write(toFile: file, atomically: true, encoding: .utf8) }
        let valid = """
            version: 1
            name: hi
            goal: say hi
            risk: low
            repository: \(repo)
            base_branch: main
            tasks:
              - id: hi
                title: hi
                prompt: say hi
                scope: [hi.txt]
                run: echo hi > hi.txt

            """
        try write(valid)
        #expect(try DraftCheck.plan(at: file, goal: goal, agents: .offline).tasks.map(\.id) == ["hi"])

        try write(valid.replacingOccurrences(of: "    scope:", with: "    scop:"))
        #expect {
            try DraftCheck.plan(at: file, goal: goal, agents: .offline)
        } throws: { error in
            (error as? RoleError)?.message.contains("\(file):11:5: tasks[0].scop: unknown key") == true
        }

        try write(valid + "gates:\n  - name: test\n    command: [true]\n")
        #expect {
            try DraftCheck.plan(at: file, goal: goal, agents: .offline)
        } throws: { error in
            (error as? RoleError)?.message.contains("the plan proposes gates (gates: test)") == true
                && (error as? RoleError)?.message.contains("--allow-model-gates") == true
        }
        let allowing = try GoalDraft(
            goal: RunSubmission.goal(
                text: "say hi", options: .init(repository: repo, allowModelGates: true), run: "r", worker: worker))
        #expect(try DraftCheck.plan(at: file, goal: allowing, agents: .offline).gates.map(\.name) == ["test"])

        try write(valid.replacingOccurrences(of: "base_branch: main", with: "base_branch: dev"))
        #expect(throws: RoleError.self) { try DraftCheck.plan(at: file, goal: goal, agents: .offline) }
    }

    /// A `draft` envelope, as the planner's model call makes it.
    func draft(_ purpose: Draft.Purpose, _ attempt: Int, text: String = "", questions: [String] = [], error: String?)
        -> Envelope
    {
        let body = Draft(purpose: purpose, attempt: attempt, text: text, questions: questions, error: error)
            .body(outcome: "ok", usage: usage("planner", 0.25))
        return Envelope(
            id: "1700000000000-draft-\(purpose.rawValue)-\(attempt)-00000000", run: "r", kind: GoalDraft.kind,
            from: worker, to: "planner", body: body)
    }

    @Test(
        "a free-text goal: questions in one batch, intent once all are answered, spec then plan tries, halt after three"
    )
    func goalDraft() throws {
        let goal = RunSubmission.goal(text: "say hi", options: .init(repository: "/tmp/repo"), run: "r", worker: worker)
        var state = try GoalDraft(goal: goal)
        #expect(state.start(maxQuestions: 4) == [.call(.questions, attempt: 1, feedback: nil)])
        let asked = state.apply(draft(.questions, 1, questions: ["Which file?", "Which words?"], error: nil))
        guard case .ask(let questions) = asked.first else {
            Issue.record("no questions asked: \(asked)")
            return
        }
        #expect(questions.map(\.text) == ["Which file?", "Which words?"])
        #expect(state.json["waiting"]?.stringValue?.contains("planbus answer \(questions[0].id)") == true)
        func answer(_ id: String, _ text: String) -> Envelope {
            Envelope(
                run: "r", kind: RunMessages.answer, from: worker, to: "planner",
                body: ["question_id": .string(id), "answer": .string(text)])
        }
        #expect(state.apply(answer(questions[0].id, "hi.txt")).isEmpty)
        #expect(state.apply(answer("unknown", "x")).isEmpty)
        #expect(
            state.apply(answer(questions[1].id, "hello"))
                == [.writeIntent, .call(.spec, attempt: 1, feedback: nil)])
        #expect(state.intentMarkdown.contains("## Q2: Which words?\n\nhello"))
        #expect(
            state.apply(draft(.spec, 1, error: "lacks Gates")) == [.call(.spec, attempt: 2, feedback: "lacks Gates")])
        #expect(
            state.apply(draft(.spec, 2, text: "# spec", error: nil)) == [
                .writeSpec("# spec"), .call(.plan, attempt: 1, feedback: nil),
            ])
        #expect(state.apply(draft(.plan, 1, error: "bad 1")) == [.call(.plan, attempt: 2, feedback: "bad 1")])
        #expect(state.apply(draft(.plan, 2, error: "bad 2")) == [.call(.plan, attempt: 3, feedback: "bad 2")])
        #expect(state.apply(draft(.plan, 3, error: "bad 3")).isEmpty)
        #expect(state.halted == "the model's plan was not usable after 3 tries: bad 3")
        #expect(state.json["finished"] == .bool(true))
        #expect(state.cost.total == 1.5)

        var costly = try GoalDraft(
            goal: RunSubmission.goal(
                text: "x", options: .init(repository: "/tmp/repo", questions: false), run: "r", worker: worker))
        costly.costLimits = CostLimits(run: 0.4)
        #expect(costly.start(maxQuestions: 4) == [.skipQuestions("--no-questions")])
        _ = costly.apply(draft(.questions, 1, error: nil))
        #expect(costly.apply(draft(.spec, 1, text: "# s", error: nil)).isEmpty)
        #expect(costly.halted == "run cost $0.50 exceeds max_cost_usd $0.40 (planner $0.50)")
    }
}
