import Bus
import BusTesting
import Foundation
import Roles
import Testing

@testable import Roles

/// The scope limit of model-proposed tasks: which globs are inside it, the limit a goal sets, a
/// model-drafted plan that escapes `--scope` (asked again with the error, then halted), and a
/// follow-up that escapes it (dropped with why).
@Suite("Scope limit")
struct ScopeLimitTests {
    let worker = try! WorkerID(role: "verifier", host: "h", pid: 1, incarnation: "0123abcd")

    func limit(_ globs: String...) -> ScopeLimit { ScopeLimit(globs: globs, source: "--scope") }

    @Test("globs inside the limit are kept, globs outside it are named")
    func insideAndOutside() {
        let src = limit("src/**", "docs/*.md")
        #expect(src.escaping(["src/a.swift", "src/x/y/z.swift", "src/*.swift", "src/**/*.swift", "src/x/**"]) == [])
        #expect(src.escaping(["docs/a.md", "docs/*.md", "docs/READ ME.md"]) == [])
        // The test is conservative: a wildcard segment is inside only when the limit's segment is
        // the same or `*`, so these count as outside though docs/*.md covers them.
        #expect(src.escaping(["docs/READ?E.md", "docs/[ab].md"]) == ["docs/READ?E.md", "docs/[ab].md"])
        #expect(
            src.escaping(["tests/a.swift", "README.md", "docs/a.txt", "docs/x/a.md"]) == [
                "tests/a.swift", "README.md", "docs/a.txt", "docs/x/a.md",
            ])
        // Only what escapes is named.
        #expect(src.escaping(["src/a", "lib/**", "docs/b.md"]) == ["lib/**"])
        // A glob is tidied as the plan reader does: ./, empty segments, a trailing /.
        #expect(src.escaping(["./src//a.swift", "src/x/"]) == [])
        #expect(limit("src/").escaping(["src/a", "./src/b/c"]) == [])
        #expect(limit(".").escaping(["anything/at/all", "*"]) == [])
        // The text for messages says where the limit comes from.
        #expect(src.text == "src/**, docs/*.md (--scope)")
        #expect(ScopeLimit.none.escaping(["/etc/passwd", "../x", "**"]) == [])
        #expect(ScopeLimit.none.text == "no limit")
    }

    @Test("** inside and outside the limit: a trailing ** is one segment or more, elsewhere none or more")
    func globstar() {
        let tree = limit("src/**")
        // src/** does not match src itself, nor does anything but src/** cover all of src/**.
        #expect(tree.escaping(["src"]) == ["src"])
        #expect(tree.escaping(["**"]) == ["**"])
        #expect(tree.escaping(["**/src/a"]) == ["**/src/a"])
        #expect(tree.escaping(["src/**/a/**"]) == [])
        let swift = limit("**/*.swift")
        #expect(swift.escaping(["a.swift", "x/y/a.swift", "src/**/*.swift", "**/*.swift"]) == [])
        #expect(swift.escaping(["src/**", "src/*", "**/*.md"]) == ["src/**", "src/*", "**/*.md"])
        let middle = limit("a/**/b")
        #expect(middle.escaping(["a/b", "a/x/b", "a/x/**/b", "a/**/b"]) == [])
        #expect(middle.escaping(["a/**", "a/x/c", "a/**/c"]) == ["a/**", "a/x/c", "a/**/c"])
        // Everything: ** alone is the widest limit.
        #expect(limit("**").escaping(["a", "a/b/c", "src/**", "**"]) == [])
        // Many ** stay fast: a long path against a limit with several ** (memoized, not exponential).
        let deep = Array(repeating: "d", count: 400).joined(separator: "/") + "/x.md"
        #expect(limit("**/**/**/**/**/*.txt").escaping([deep]) == [deep])
        #expect(limit("**/**/**/**/**/*.md").escaping([deep]) == [])
    }

    @Test("a glob wider than the limit is outside it")
    func wider() {
        let one = limit("src/app/**")
        #expect(one.escaping(["src/**"]) == ["src/**"])
        #expect(one.escaping(["src/*/main.swift"]) == ["src/*/main.swift"])
        #expect(one.escaping(["src/ap?/x"]) == ["src/ap?/x"])
        #expect(one.escaping(["src/[a-z]pp/x"]) == ["src/[a-z]pp/x"])
        #expect(one.escaping(["*"]) == ["*"])
        let file = limit("src/a.swift")
        #expect(file.escaping(["src/*.swift", "src/a.swift/**", "src/a.swif?"]).count == 3)
        // A literal glob the limit's wildcards match is inside; a wildcard one is not.
        let star = limit("src/*.swift")
        #expect(star.escaping(["src/main.swift", "src/*.swift"]) == [])
        #expect(star.escaping(["src/*", "src/*.sw*"]) == ["src/*", "src/*.sw*"])
        // A backslash escape is not read as a literal.
        #expect(limit("src/a?").escaping(["src/a\\*"]) == ["src/a\\*"])
    }

    @Test("unicode: paths are compared by their Unicode scalars, as git and Glob see them")
    func unicode() {
        let composed = limit("docs/caf\u{E9}/**")
        #expect(composed.escaping(["docs/caf\u{E9}/menu.md", "docs/caf\u{E9}/**"]) == [])
        // The same name with a combining accent is another folder on disk, though Swift's ==
        // calls the two strings equal.
        let decomposed = "docs/cafe\u{301}/**"
        #expect("docs/caf\u{E9}/**" == decomposed)
        #expect(composed.escaping([decomposed]) == [decomposed])
        #expect(limit("\u{65E5}\u{672C}/**").escaping(["\u{65E5}\u{672C}/\u{8A9E}.md"]) == [])
        // A wildcard behind a combining mark is still a wildcard: a?? matches a*+U+0301 as a
        // name of three scalars, but a*+U+0301 as a glob matches longer names too.
        let wild = "a*\u{301}/x"
        #expect(limit("a??/x").escaping([wild]) == [wild])
        #expect(limit("a??/x").escaping(["ab\u{301}/x"]) == [])
    }

    @Test("../ and absolute globs are outside every limit, even **")
    func leaving() {
        for glob in ["../x", "../**", "src/../../etc/passwd", "src/../**", "/etc/**", "/src/a", "src/./../x"] {
            #expect(limit("src/**").escaping([glob]) == [glob], "\(glob)")
            #expect(limit("**").escaping([glob]) == [glob], "\(glob)")
        }
        // A name that merely starts with dots stays inside.
        #expect(limit("src/**").escaping(["src/..hidden/a", "src/.../b"]) == [])
    }

    @Test("the limit a goal sets: --scope, else the union of the plan's scopes, none with allow_model_scope")
    func fromGoal() {
        var plan = Plan(name: "p", goal: "g", risk: .low, repository: "/tmp/repo", tasks: [], file: "/tmp/plan.yaml")
        plan.tasks = [
            PlanTask(id: "a", title: "a", prompt: "a", scope: ["src/a/**", "README.md"], run: "true"),
            PlanTask(id: "b", title: "b", prompt: "b", scope: ["src/a/**", "docs/**"], run: "true"),
        ]
        let union = ScopeLimit.of(goal: [:], plan: plan)
        #expect(union.globs == ["src/a/**", "README.md", "docs/**"])
        #expect(union.text.hasSuffix("(the plan's task scopes)"))
        let given = ScopeLimit.of(goal: ["scope": ["lib/**"]], plan: plan)
        #expect(given == ScopeLimit(globs: ["lib/**"], source: "--scope"))
        #expect(ScopeLimit.of(goal: ["scope": ["lib/**"], "allow_model_scope": true], plan: plan) == .none)
        // An empty or malformed scope is no scope.
        #expect(ScopeLimit.of(goal: ["scope": []], plan: plan).globs == union.globs)
        #expect(ScopeLimit.of(goal: ["scope": "lib/**"], plan: plan).globs == union.globs)
    }

    /// A verdict on `task`'s first attempt carrying `followups`.
    func verdict(_ task: String, followups: [JSONValue]) -> Envelope {
        Envelope(
            run: "r", task: task, kind: RunMessages.verdict, from: worker, to: "planner", attempt: 1,
            body: [
                "attempt": 1, "approved": true, "integrated": .string("m-\(task)"), "commit": .string("c-\(task)"),
                "feedback": "", "diff": ["files": 1, "insertions": 1, "deletions": 0],
                "followups": .array(followups),
            ])
    }

    /// Folds `envelope` as the planner does: its cost and follow-ups, then the input.
    func fold(_ state: inout RunState, _ envelope: Envelope) {
        state.account(envelope)
        _ = RunInput(envelope).map { state.apply($0) }
    }

    @Test("a follow-up whose scope escapes the run's limit is dropped with why; allow_model_scope adds it")
    func followups() {
        let plan = Plan(
            name: "p", goal: "g", risk: .low, repository: "/tmp/repo",
            tasks: [PlanTask(id: "a", title: "a", prompt: "a", scope: ["src/a/**"], run: "true")],
            file: "/tmp/plan.yaml")
        let proposals: [JSONValue] = [
            ["title": "narrow", "prompt": "x", "scope": ["src/a/tests/**"], "run": "true"],
            ["title": "wide", "prompt": "x", "scope": ["src/**"], "run": "true"],
            ["title": "elsewhere", "prompt": "x", "scope": ["src/a/x.swift", ".github/workflows/*"], "run": "true"],
            ["title": "inherits", "prompt": "x", "run": "true"],
        ]
        var limited = RunState(run: "r", plan: plan)
        limited.scopeLimit = ScopeLimit.of(goal: [:], plan: plan)
        _ = limited.start()
        fold(&limited, verdict("a", followups: proposals))
        #expect(limited.plan.tasks.map(\.title) == ["a", "narrow", "inherits"])
        #expect(limited.plan.task("a-f2")?.scope == ["src/a/**"])
        #expect(
            limited.droppedFollowups == [
                "a: wide: not added: its scope src/** is outside the run's scope limit src/a/** (the plan's task "
                    + "scopes); submit with --allow-model-scope to allow it",
                "a: elsewhere: not added: its scope .github/workflows/* is outside the run's scope limit src/a/** "
                    + "(the plan's task scopes); submit with --allow-model-scope to allow it",
            ])
        #expect(limited.json["followups_dropped"]?.arrayValue?.count == 2)

        var open = RunState(run: "r", plan: plan)
        open.scopeLimit = ScopeLimit.of(goal: ["allow_model_scope": true], plan: plan)
        _ = open.start()
        fold(&open, verdict("a", followups: proposals))
        #expect(open.plan.tasks.map(\.title) == ["a", "narrow", "wide", "elsewhere", "inherits"])
        #expect(open.droppedFollowups == [])
    }

    /// A `draft` envelope of the model's plan try `attempt`, with the check's `error`.
    func draft(_ attempt: Int, error: String?) -> Envelope {
        let body = Draft(purpose: .plan, attempt: attempt, text: "plan", error: error)
            .body(outcome: "ok", usage: ["role": "planner", "cost_usd": .number(0.1), "cost_source": "reported"])
        return Envelope(
            id: "1700000000000-draft-plan-\(attempt)-00000000", run: "r", kind: GoalDraft.kind, from: worker,
            to: "planner", body: body)
    }

    @Test("a drafted task outside --scope is a draft error: the model is asked again with it, then the run halts")
    func draftedOutside() throws {
        let root = try TemporaryBus(roles: []).root
        let repo = root + "/repo"
        try FileManager.default.createDirectory(atPath: repo + "/.git", withIntermediateDirectories: true)
        let options = RunSubmission.GoalOptions(repository: repo, questions: false, scope: ["docs/**"])
        let goal = try GoalDraft(
            goal: RunSubmission.goal(text: "document it", options: options, run: "r", worker: worker))
        #expect(goal.scope == ["docs/**"])
        let file = root + "/plan.yaml"
        func write(_ scope: String) throws {
            try """
            version: 1
            name: docs
            goal: document it
            risk: low
            repository: \(repo)
            base_branch: main
            tasks:
              - id: guide
                title: write the guide
                prompt: write docs/guide.md
                scope: [docs/guide.md]
                run: echo guide > docs/guide.md
              - id: ci
                title: change the workflow
                prompt: edit the workflow
                scope: \(scope)
                run: "true"

            """.write(toFile: file, atomically: true, encoding: .utf8)
        }
        try write("[docs/ci.md, .github/workflows/*, \"*\"]")
        var error = ""
        #expect {
            try DraftCheck.plan(at: file, goal: goal, agents: .offline)
        } throws: { thrown in
            error = (thrown as? RoleError)?.message ?? ""
            return (thrown as? RoleError)?.code == .invalidPlan
        }
        #expect(
            error
                == "\(file): tasks[1].scope: .github/workflows/*, * is outside the goal's scope "
                + "docs/** (--scope): keep every task's scope inside it", "\(error)")
        // Inside the limit, the same plan is accepted; --allow-model-scope accepts any scope.
        try write("[docs/ci.md]")
        #expect(try DraftCheck.plan(at: file, goal: goal, agents: .offline).tasks.count == 2)
        try write("[.github/workflows/*]")
        let open = try GoalDraft(
            goal: RunSubmission.goal(
                text: "document it",
                options: .init(repository: repo, questions: false, scope: ["docs/**"], allowModelScope: true), run: "r",
                worker: worker))
        #expect(try DraftCheck.plan(at: file, goal: open, agents: .offline).tasks.count == 2)
        #expect(open.scopeFields == ["allow_model_scope": true, "scope": ["docs/**"]])

        // The fold asks the model again with the error, three tries in all, then halts.
        var state = goal
        _ = state.start(maxQuestions: 4)
        _ = state.apply(
            Envelope(
                id: "1700000000000-draft-questions-1-00000000", run: "r", kind: GoalDraft.kind, from: worker,
                to: "planner",
                body: Draft(purpose: .questions, attempt: 1, text: "", error: nil).body(
                    outcome: "skipped", usage: .null)
            ))
        _ = state.apply(
            Envelope(
                id: "1700000000000-draft-spec-1-00000000", run: "r", kind: GoalDraft.kind, from: worker, to: "planner",
                body: Draft(purpose: .spec, attempt: 1, text: "# spec", error: nil).body(outcome: "ok", usage: .null)))
        #expect(state.stage == .plan)
        #expect(state.apply(draft(1, error: error)) == [.call(.plan, attempt: 2, feedback: error)])
        #expect(state.apply(draft(2, error: error)) == [.call(.plan, attempt: 3, feedback: error)])
        #expect(state.apply(draft(3, error: error)).isEmpty)
        #expect(state.halted == "the model's plan was not usable after 3 tries: \(error)")
        #expect(state.json["finished"] == .bool(true))
        #expect(state.planText == nil)
    }
}
