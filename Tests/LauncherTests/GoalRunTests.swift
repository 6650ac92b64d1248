import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Free-text goals end to end: real role processes under `planbus up`, a planner driving a
/// `command` agent (a script that answers by what the prompt asks: questions, a spec or a plan),
/// offline builders, and a real git repository.
@Suite("Goal runs", .serialized)
struct GoalRunTests {
    /// The model: answers the intent questions, the tech spec and the plan prompts. The goal's
    /// text names a scenario: `greet` (a valid plan), `twice` (two invalid plans, then a valid
    /// one), `never` (always invalid), `gates` (always proposes gates), `costly` (each call costs
    /// $6), `limited` (the first call meets a usage limit). It counts the plans it was asked for in
    /// `<scenario>.plans` next to itself.
    static let model = #"""
        import json, os, re, sys
        prompt = open(sys.argv[1]).read()
        here = os.path.dirname(os.path.abspath(__file__))
        scenario = next((s for s in ["twice", "never", "gates", "costly", "limited"] if "scenario " + s in prompt),
                        "greet")
        if scenario == "limited" and not os.path.exists(os.path.join(here, "limited.hit")):
            # The first call meets a usage limit that resets 3 seconds later.
            import time
            open(os.path.join(here, "limited.hit"), "w").write(str(time.time()))
            print(json.dumps({"error": {"type": "rate_limit", "message": "usage limit reached",
                                        "resets_at": int(time.time()) + 3}, "usage": {"input": 5, "output": 0}}))
            sys.exit(0)
        cost = 6.0 if scenario == "costly" else 0.01
        def reply(text):
            print(json.dumps({"text": text, "usage": {"input": 1000, "output": 200, "cost_usd": cost}}))
            sys.exit(0)
        sections = ["Repo-awareness proof", "File-impact manifest", "Contracts", "Invariants", "Gates",
                    "Golden path", "Failure matrix", "Step report"]
        if "Turn the goal below into a plan" in prompt:
            counter = os.path.join(here, scenario + ".plans")
            n = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
            open(counter, "w").write(str(n))
            repo = re.search(r"`repository: ([^`]+)`", prompt).group(1)
            file = "hello-" + scenario + ".txt"
            plan = ("version: 1\nname: %s\ngoal: say hello\nrisk: low\nrepository: %s\nbase_branch: main\n"
                    "tasks:\n  - id: hello\n    title: say hello\n    prompt: write %s\n    scope: [%s]\n"
                    "    run: echo hello > %s\n") % (scenario, repo, file, file, file)
            if scenario == "never" or (scenario == "twice" and n <= 2):
                plan = plan.replace("    scope:", "    depend_on: [nothing]\n    scope:")
            if scenario == "gates":
                plan += "gates:\n  - name: test\n    command: [\"true\"]\n"
            reply("Here is the plan.\n```yaml\n" + plan + "```\n")
        if "Write the tech spec" in prompt:
            reply("# Tech spec\n\n" + "\n\n".join("## %s\n\nFor %s." % (s, scenario) for s in sections))
        if "Ask at most" in prompt:
            reply(json.dumps({"questions": ["Which file?", "Which words?"]}))
        reply("I do not know what is asked")
        """#

    /// A session whose planner drives the model script, with `max_cost_usd: 10`.
    func session() async throws -> (SessionFixture, Git, String) {
        let folder = FileManager.default.temporaryDirectory.path + "/planbus-model-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Self.model.write(toFile: folder + "/model.py", atomically: true, encoding: .utf8)
        let session = try await SessionFixture(
            roles: """
                  planner:
                    agent: command
                  builder:
                  verifier:
                  judge:
                  docs:
                """,
            settings: """
                agents:
                  max_cost_usd: 10
                  command:
                    argv: ["/usr/bin/python3", "\(folder)/model.py", "{prompt_file}"]
                    output: json
                """)
        let git = try await Git.create(
            at: session.root + "/repo", files: [("README.md", "# greeter\n")], message: "start")
        return (session, git, folder)
    }

    func submit(_ session: SessionFixture, _ goal: String, run: String, _ extra: String...) async throws
        -> CommandResult
    {
        try await runCommand(
            [Executables.planbus, "submit", "--goal", goal, "--repo", session.root + "/repo", "--run", run]
                + extra + ["--config", session.config], directory: session.root)
    }

    static let sections = [
        "Repo-awareness proof", "File-impact manifest", "Contracts", "Invariants", "Gates", "Golden path",
        "Failure matrix", "Step report",
    ]

    @Test(
        "a free-text goal: questions answered with planbus answer, INTENT.md, SPEC.md with every section, a plan that runs to the end"
    )
    func goalToTheEnd() async throws {
        let (session, git, model) = try await session()
        defer { try? FileManager.default.removeItem(atPath: model) }
        let up = try session.up()
        defer { up.send(SIGTERM) }

        // Waiting for people: --wait stops with 2 and names the questions.
        let waited = try await submit(session, "scenario greet: say hello", run: "g1", "--wait")
        #expect(waited.code == 2, "\(waited.stdout)\n\(waited.stderr)")
        #expect(waited.stderr.contains("waiting on a person: question"), "\(waited.stderr)")
        let listed = try await session.planbus("questions", "--run", "g1", "--json")
        let requests = try JSONValue.parse(listed.stdout)["requests"]?.arrayValue ?? []
        #expect(requests.compactMap { $0["question"]?.stringValue } == ["Which file?", "Which words?"])
        for (request, answer) in zip(requests, ["hello-greet.txt", "hello"]) {
            let id = try #require(request["id"]?.stringValue)
            let answered = try await session.planbus("answer", id, answer)
            #expect(answered.code == 0, "\(answered.stderr)")
        }
        #expect(await eventually { session.runStatus("g1")?["finished"] == .bool(true) })
        let final = session.runStatus("g1")
        #expect(final?["halted"] == .null, "\(String(describing: final))")
        #expect(final?["tasks"]?.arrayValue?.first?["state"] == "integrated")
        #expect(final?["cost_usd_by_role"]?["planner"] == .number(0.03))
        let folder = session.bus.layout.run("g1")
        #expect(final?["intent"] == .string(folder + "/INTENT.md"))
        let intent = try String(contentsOfFile: folder + "/INTENT.md", encoding: .utf8)
        #expect(intent.contains("## Q1: Which file?\n\nhello-greet.txt"))
        #expect(intent.contains("## Q2: Which words?\n\nhello"))
        let spec = try String(contentsOfFile: folder + "/SPEC.md", encoding: .utf8)
        for section in Self.sections { #expect(spec.contains("## \(section)")) }
        // Every later prompt carries the intent.
        let planPrompt = try String(contentsOfFile: folder + "/planner/plan-1.log.prompt.md", encoding: .utf8)
        #expect(planPrompt.contains("hello-greet.txt") && planPrompt.contains("## Failure matrix"))
        let integration = RunMessages.integrationBranch("g1")
        #expect(try await git.run(["show", "\(integration):hello-greet.txt"]) == "hello")
        // The other roles read the drafted plan.
        #expect(try RunMessages.plan(of: "g1", layout: session.bus.layout).name == "greet")
        #expect(await eventually { FileManager.default.fileExists(atPath: folder + "/HANDOFF.md") })
    }

    @Test(
        "plans checked like submitted ones: invalid twice then valid runs; three invalid plans halt; gates refused; a costly run halted"
    )
    func invalidPlans() async throws {
        let (session, _, model) = try await session()
        defer { try? FileManager.default.removeItem(atPath: model) }
        let up = try session.up()
        defer { up.send(SIGTERM) }
        for (run, goal) in [
            ("t1", "scenario twice"), ("n1", "scenario never"), ("x1", "scenario gates"), ("c1", "scenario costly"),
        ] {
            let sent = try await submit(session, goal, run: run, "--no-questions")
            #expect(sent.code == 0, "\(sent.stderr)")
        }
        let runs = ["t1", "n1", "x1", "c1"]
        #expect(
            await eventually(timeout: .seconds(90)) {
                runs.allSatisfy { session.runStatus($0)?["finished"] == .bool(true) }
            })
        let twice = session.runStatus("t1")
        #expect(twice?["halted"] == .null, "\(String(describing: twice))")
        #expect(twice?["tasks"]?.arrayValue?.first?["state"] == "integrated")
        #expect(try String(contentsOfFile: model + "/twice.plans", encoding: .utf8) == "3")

        let never = session.runStatus("n1")
        let reason = never?["halted"]?.stringValue ?? ""
        #expect(reason.hasPrefix("the model's plan was not usable after 3 tries: "), "\(reason)")
        #expect(reason.contains("plan.yaml:11:5: tasks[0].depend_on: unknown key"), "\(reason)")
        let waited = try await session.planbus("submit", "--wait", "--goal", "x", "--repo", session.root + "/nope")
        #expect(waited.code == 3)

        let gates = session.runStatus("x1")?["halted"]?.stringValue ?? ""
        #expect(gates.contains("the plan proposes gates (gates: test)") && gates.contains("--allow-model-gates"))

        let costly = session.runStatus("c1")?["halted"]?.stringValue
        #expect(costly == "run cost $12.00 exceeds max_cost_usd $10.00 (planner $12.00)")
        #expect(session.runStatus("c1")?["cost_usd"] == .number(12))
    }

    @Test("a planner without an agent dead-letters a free-text goal, and submit --wait says why")
    func offlinePlanner() async throws {
        let (session, _) = try await runSession()
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let waited = try await session.planbus(
            "submit", "--goal", "say hello", "--repo", session.root + "/repo", "--run", "o1", "--wait")
        #expect(waited.code == 3, "\(waited.stdout)\n\(waited.stderr)")
        #expect(
            waited.stderr.contains("a free-text goal needs a planner with an agent: set roles.planner.agent"),
            "\(waited.stderr)")
        // planbus status says what became of the goal.
        let status = try await session.planbus("status", "o1")
        #expect(status.code == 1)
        #expect(status.stderr.contains("run o1 has no status: its goal"), "\(status.stderr)")
        #expect(status.stderr.contains("was dead-lettered: a free-text goal needs a planner with an agent"))
        let usage = try await session.planbus("submit", "--goal", "x", "plan.yaml")
        #expect(usage.code == 64)
    }

    @Test("a verdict's follow-up becomes a task of the run, built after its origin, in the plan every role reads")
    func followup() async throws {
        let session = try await SessionFixture(
            roles: """
                  planner:
                  builder:
                  verifier:
                    instances: 0
                  docs:
                """)
        let git = try await Git.create(at: session.root + "/repo", files: [("README", "start\n")], message: "start")
        try """
        version: 1
        name: follow
        goal: one task, then its follow-up
        risk: low
        repository: repo
        tasks:
          - id: a
            title: write a.txt
            prompt: write a.txt
            scope: [a.txt]
            run: echo a > a.txt
        """.write(toFile: session.root + "/plan.yaml", atomically: true, encoding: .utf8)
        let up = try session.up()
        defer { up.send(SIGTERM) }
        #expect(try await session.planbus("submit", "plan.yaml", "--run", "f1").code == 0)
        // No verifier runs: the test answers the builder's `built` as the verifier would.
        let layout = session.bus.layout
        var built: Envelope?
        #expect(
            await eventually {
                built = RunMessages.pending(kind: RunMessages.built, role: "verifier", run: "f1", layout: layout).first
                return built != nil
            })
        let head = try await git.commit(of: RunMessages.integrationBranch("f1"))
        let verdict = Envelope(
            run: "f1", task: "a", kind: RunMessages.verdict, from: try WorkerID.current(role: "verifier"),
            to: "planner", causation: built?.id, attempt: 1,
            body: [
                "attempt": 1, "candidate": 1, "approved": true, "integrated": .string(head), "commit": .string(head),
                "feedback": "", "diff": ["files": 1, "insertions": 1, "deletions": 0],
                "followups": [["title": "test a.txt", "prompt": "add a test of a.txt", "run": "echo t > a_test.txt"]],
                "summary": "approved",
            ])
        try Publisher(bus: session.bus, worker: verdict.from).publish(verdict)
        #expect(
            await eventually {
                RunMessages.pending(kind: RunMessages.built, role: "verifier", run: "f1", layout: layout)
                    .contains { $0.task == "a-f1" }
            })
        let status = try #require(session.runStatus("f1"))
        let followup = status["tasks"]?.arrayValue?.first { $0["id"] == "a-f1" }
        #expect(followup?["followup_of"] == "a")
        #expect(followup?["state"] == "building")
        let plan = try RunMessages.plan(of: "f1", layout: layout)
        #expect(plan.task("a-f1")?.dependsOn == ["a"])
        #expect(plan.task("a-f1")?.scope == ["a.txt"])
    }

    @Test("a submitted medium-risk plan gets its tech spec from the planner's model, with every section, then runs")
    func submittedPlanModelSpec() async throws {
        let (session, git, _) = try await session()
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let plan = session.root + "/medium.yaml"
        try """
        version: 1
        name: medium
        goal: say hello carefully
        risk: medium
        repository: repo
        tasks:
          - id: hello
            title: say hello
            prompt: write hello.txt
            scope: [hello.txt]
            run: echo hello > hello.txt
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let result = try await session.planbus("submit", plan, "--wait", "--run", "m1")
        #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)")
        let spec = try String(contentsOfFile: session.bus.layout.run("m1") + "/SPEC.md", encoding: .utf8)
        for section in Self.sections { #expect(spec.contains("## \(section)"), "\(section)") }
        // Written by the model (its spec says which scenario it answered), not the offline spec.
        #expect(spec.contains("For greet."))
        #expect(FileManager.default.fileExists(atPath: session.bus.layout.run("m1") + "/planner/spec-1.log"))
        #expect(try await git.run(["show", "\(RunMessages.integrationBranch("m1")):hello.txt"]) == "hello")
    }

    @Test("a rate-limited planner hands the goal back until the reset, then plans and runs it")
    func limited() async throws {
        let (session, git, _) = try await session()
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let result = try await submit(session, "scenario limited: say hello", run: "lim1", "--no-questions", "--wait")
        #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)")
        let layout = session.bus.layout
        #expect(FileManager.default.fileExists(atPath: layout.root + "/quota/command.json"))
        let events = JournalReader(layout: layout).events(run: "lim1")
        let deferral = try #require(
            events.first { $0.event == .release && $0.role == "planner" && $0.notBefore != nil })
        let notBefore = try #require(deferral.notBefore)
        // Claimed again only at or after the reset, and not counted as a failure.
        let reclaims = events.filter {
            $0.event == .claim && $0.role == "planner" && $0.id == deferral.id && $0.time > deferral.time
        }
        #expect(!reclaims.isEmpty)
        #expect(reclaims.allSatisfy { $0.time.milliseconds >= notBefore })
        #expect(!events.contains { $0.event == .dead })
        let file = try await git.run(["show", "\(RunMessages.integrationBranch("lim1")):hello-limited.txt"])
        #expect(file.contains("hello"))
    }
}

extension RunMessages {
    /// The envelopes of `kind` for `run` waiting in `role`'s queue.
    static func pending(kind: String, role: String, run: String, layout: BusLayout) -> [Envelope] {
        let folder = layout.new(role)
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder + "/" + name),
                let envelope = try? Envelope(decoding: Array(data))
            else { return nil }
            return envelope.run == run && envelope.kind == kind ? envelope : nil
        }
    }

}
