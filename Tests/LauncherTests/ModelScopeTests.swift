import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The scope limit end to end: real role processes under `planbus up`, one `command` agent (a
/// script that answers by what the prompt asks) as the planner's model, the builder and the
/// verifier's reviewer, on a real git repository. A model narrows scopes, never widens them: a
/// reviewer's follow-up outside the run's limit is dropped with why, and a drafted plan outside
/// `--scope` is asked for again with the error.
@Suite("Model scopes", .serialized)
struct ModelScopeTests {
    /// The agent. As the builder it writes every path named after `WRITE` in its prompt. As the
    /// reviewer it approves, and on a task whose prompt says `ORIGIN` proposes two follow-ups:
    /// `test a` inside `src/a/**`, `touch ci` in `.github/workflows/**`. As the planner it writes a
    /// spec, and a plan whose one task writes `src/guide.md`, or `docs/guide.md` once its prompt
    /// says its plan was outside the goal's scope (never for `scenario stubborn`); it counts the
    /// plans it wrote in `<scenario>.plans` next to itself.
    static let agent = #"""
        import json, os, re, sys
        prompt = open(sys.argv[1]).read()
        here = os.path.dirname(os.path.abspath(__file__))
        def reply(text):
            print(json.dumps({"text": text, "usage": {"input": 10, "output": 5, "cost_usd": 0.001}}))
            sys.exit(0)
        if "You are a reviewer of task" in prompt:
            followups = []
            if "ORIGIN" in prompt:
                followups = [
                    {"title": "test a", "prompt": "WRITE src/a/tests/t.txt", "scope": ["src/a/tests/**"]},
                    {"title": "touch ci", "prompt": "WRITE .github/workflows/ci.yml",
                     "scope": [".github/workflows/**"]},
                ]
            reply(json.dumps({"approved": True, "issues": [], "followups": followups}))
        if "You are the builder of task" in prompt:
            for path in re.findall(r"WRITE (\S+)", prompt):
                if os.path.dirname(path):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "w").write("written\n")
            reply("Wrote the files.\nSTEP REPORT\n- changed: what the prompt named")
        if "Turn the goal below into a plan" in prompt:
            scenario = "stubborn" if "scenario stubborn" in prompt else "learns"
            counter = os.path.join(here, scenario + ".plans")
            n = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
            open(counter, "w").write(str(n))
            repo = re.search(r"`repository: ([^`]+)`", prompt).group(1)
            told = "is outside the goal's scope" in prompt
            target = "docs/guide.md" if told and scenario == "learns" else "src/guide.md"
            plan = ("version: 1\nname: guide\ngoal: write the guide\nrisk: low\nrepository: %s\n"
                    "base_branch: main\ntasks:\n  - id: guide\n    title: write the guide\n"
                    "    prompt: WRITE %s\n    scope: [%s]\n") % (repo, target, target)
            reply("Here is the plan.\n```yaml\n" + plan + "```\n")
        if "Write the tech spec" in prompt:
            sections = ["Repo-awareness proof", "File-impact manifest", "Contracts", "Invariants", "Gates",
                        "Golden path", "Failure matrix", "Step report"]
            reply("# Tech spec\n\n" + "\n\n".join("## %s\n\nThe guide." % s for s in sections))
        reply("I do not know what is asked")
        """#

    /// A session whose planner, builder and verifier drive the agent script, and the folder of
    /// the script.
    func session() async throws -> (SessionFixture, Git, String) {
        let folder = FileManager.default.temporaryDirectory.path + "/planbus-scope-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Self.agent.write(toFile: folder + "/agent.py", atomically: true, encoding: .utf8)
        let session = try await SessionFixture(
            roles: """
                  planner:
                    agent: command
                  builder:
                    agent: command
                  verifier:
                    agent: command
                    model: reviewer
                  judge:
                  docs:
                """,
            settings: """
                agents:
                  command:
                    argv: ["/usr/bin/python3", "\(folder)/agent.py", "{prompt_file}"]
                    output: json
                """)
        let git = try await Git.create(
            at: session.root + "/repo", files: [("README.md", "# scoped\n")], message: "start")
        return (session, git, folder)
    }

    /// The state of each task of `run`'s status, by id.
    func states(_ session: SessionFixture, _ run: String) -> [String: String] {
        var states: [String: String] = [:]
        for task in session.runStatus(run)?["tasks"]?.arrayValue ?? [] {
            if let id = task["id"]?.stringValue { states[id] = task["state"]?.stringValue ?? "" }
        }
        return states
    }

    /// True when `path` is on the integration branch of `run`.
    func integrated(_ git: Git, _ run: String, _ path: String) async -> Bool {
        (try? await git.run(["cat-file", "-e", "\(RunMessages.integrationBranch(run)):\(path)"])) != nil
    }

    @Test(
        "a reviewer's follow-up outside the plan's scopes is dropped with why; --allow-model-scope or a wider --scope adds it"
    )
    func followups() async throws {
        let (session, git, folder) = try await session()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try """
        version: 1
        name: scoped
        goal: write a and what its review proposes
        risk: low
        repository: repo
        tasks:
          - id: a
            title: write a
            prompt: ORIGIN WRITE src/a/a.txt
            scope: ["src/a/**"]
        """.write(toFile: session.root + "/plan.yaml", atomically: true, encoding: .utf8)
        let up = try session.up()
        defer { up.send(SIGTERM) }
        for (run, flags) in [
            ("limited", [String]()), ("allowed", ["--allow-model-scope"]),
            ("widened", ["--scope", "src/**", "--scope", ".github/**"]),
        ] {
            let sent = try await runCommand(
                [Executables.planbus, "submit", "plan.yaml", "--run", run] + flags + ["--config", session.config],
                directory: session.root)
            #expect(sent.code == 0, "\(sent.stdout)\n\(sent.stderr)")
        }
        let runs = ["limited", "allowed", "widened"]
        #expect(
            await eventually(timeout: .seconds(300)) {
                runs.allSatisfy { session.runStatus($0)?["finished"] == .bool(true) }
            })

        // Limited by the plan's own scopes: the narrower follow-up is built, the other is not.
        let limited = session.runStatus("limited")
        #expect(states(session, "limited") == ["a": "integrated", "a-f1": "integrated"], "\(limited ?? .null)")
        let dropped = limited?["followups_dropped"]?.arrayValue?.compactMap(\.stringValue)
        #expect(
            dropped == [
                "a: touch ci: not added: its scope .github/workflows/** is outside the run's scope limit src/a/** "
                    + "(the plan's task scopes); submit with --allow-model-scope to allow it"
            ], "\(limited ?? .null)")
        #expect(await integrated(git, "limited", "src/a/tests/t.txt"))
        #expect(await !integrated(git, "limited", ".github/workflows/ci.yml"))
        // The dropped follow-up is in no plan any role reads.
        #expect(try RunMessages.plan(of: "limited", layout: session.bus.layout).tasks.map(\.id) == ["a", "a-f1"])

        // --allow-model-scope, or a --scope that covers it, lets it in.
        for run in ["allowed", "widened"] {
            let final = session.runStatus(run)
            #expect(
                states(session, run) == ["a": "integrated", "a-f1": "integrated", "a-f2": "integrated"],
                "\(run): \(final ?? .null)")
            #expect(final?["followups_dropped"]?.arrayValue?.isEmpty != false, "\(run): \(final ?? .null)")
            #expect(await integrated(git, run, ".github/workflows/ci.yml"), "\(run)")
        }
    }

    @Test(
        "a drafted plan outside --scope is asked for again with the error and then kept inside; a model that keeps escaping halts the run"
    )
    func draftedPlans() async throws {
        let (session, git, folder) = try await session()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let up = try session.up()
        defer { up.send(SIGTERM) }
        for (run, goal) in [("learns", "scenario learns: write the guide"), ("stubborn", "scenario stubborn")] {
            let sent = try await runCommand(
                [
                    Executables.planbus, "submit", "--goal", goal, "--repo", session.root + "/repo", "--no-questions",
                    "--scope", "docs/**", "--run", run, "--config", session.config,
                ], directory: session.root)
            #expect(sent.code == 0, "\(sent.stdout)\n\(sent.stderr)")
        }
        #expect(
            await eventually(timeout: .seconds(300)) {
                ["learns", "stubborn"].allSatisfy { session.runStatus($0)?["finished"] == .bool(true) }
            })
        let error =
            "tasks[0].scope: src/guide.md is outside the goal's scope docs/** (--scope): keep every task's "
            + "scope inside it"

        // Told why, the model kept its second plan inside the scope, and the run went on.
        let learns = session.runStatus("learns")
        #expect(learns?["halted"] == .null, "\(learns ?? .null)")
        #expect(states(session, "learns") == ["guide": "integrated"], "\(learns ?? .null)")
        #expect(try String(contentsOfFile: folder + "/learns.plans", encoding: .utf8) == "2")
        let planner = session.bus.layout.run("learns") + "/planner"
        let first = try String(contentsOfFile: planner + "/plan-1.log.prompt.md", encoding: .utf8)
        let second = try String(contentsOfFile: planner + "/plan-2.log.prompt.md", encoding: .utf8)
        #expect(!first.contains("is outside the goal's scope"))
        #expect(second.contains(error), "\(second)")
        #expect(await integrated(git, "learns", "docs/guide.md"))
        #expect(await !integrated(git, "learns", "src/guide.md"))
        // The run's plan carries the goal's scope on, for its follow-ups.
        #expect(
            try RunMessages.plan(of: "learns", layout: session.bus.layout).tasks.map(\.scope) == [["docs/guide.md"]])

        // Three plans outside the scope halt the run, with the error; nothing is built.
        let stubborn = session.runStatus("stubborn")
        let halted = stubborn?["halted"]?.stringValue ?? ""
        #expect(halted.hasPrefix("the model's plan was not usable after 3 tries: "), "\(halted)")
        #expect(halted.contains(error), "\(halted)")
        #expect(try String(contentsOfFile: folder + "/stubborn.plans", encoding: .utf8) == "3")
        #expect(await !integrated(git, "stubborn", "src/guide.md"))
    }
}
