import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The builder driving an agent: a real `planbus role builder --agent claude` process whose
/// `claude` is a fake script, on a real git repository.
@Suite("Builder agent", .serialized)
struct BuilderAgentTests {
    struct Setup {
        let bus: TemporaryBus
        let repository: String
        let git: Git
        let base: String
        let fake: FakeAgentCLI
    }

    static let session = "5b1d0c3e-0000-4000-8000-00000000b11d"

    func setUp(body: String) async throws -> Setup {
        let bus = try TemporaryBus(settings: .testing, roles: ["builder", "verifier", "planner"])
        let repository = bus.root + "/repo"
        let git = try await Git.create(at: repository, files: [("README", "hello\n")], message: "start")
        let base = try await git.commit(of: "main")
        let fake = try FakeAgentCLI("claude", body: body)
        return Setup(bus: bus, repository: repository, git: git, base: base, fake: fake)
    }

    /// Starts a builder process driving the fake `claude`.
    func builder(_ setup: Setup, output: String = "builder.out") throws -> ChildProcess {
        let settings: JSONValue = ["primary": ["agent": "claude", "executable": .string(setup.fake.bin + "/claude")]]
        return try ChildProcess.spawn(
            [
                Executables.planbus, "role", "builder", "--bus", setup.bus.path, "--agent", "claude",
                "--agent-settings", settings.serialized(), "--envelope-timeout", "5m", "--stop-grace", "2s",
            ], stdout: .file(setup.bus.root + "/" + output), stderr: .file(setup.bus.root + "/" + output))
    }

    /// Puts the run's goal where the planner leaves the goals it took, as the builder reads it.
    func storeGoal(_ setup: Setup, run: String) throws {
        let plan = """
            version: 1
            name: agentplan
            goal: greet people kindly
            risk: low
            repository: \(setup.repository)
            gates:
              - name: has-file
                command: test -f agent.txt
            tasks:
              - id: t1
                title: write agent.txt
                prompt: write agent.txt saying hello
                scope: [agent.txt]
            """
        let worker = try WorkerID.current(role: "cli")
        let goal = Envelope(
            run: run, kind: RunMessages.goal, from: worker, to: "planner",
            body: ["plan_file": .string(setup.bus.root + "/plan.yaml"), "plan_text": .string(plan)])
        let day = setup.bus.bus.layout.done("planner", day: "2026-11-22")
        try FileManager.default.createDirectory(atPath: day, withIntermediateDirectories: true)
        try Data(try goal.encoded()).write(to: URL(fileURLWithPath: day + "/\(goal.id).json"))
        try FileManager.default.createDirectory(
            atPath: setup.bus.bus.layout.run(run), withIntermediateDirectories: true)
        try "# Tech spec\n\nInvariants for every task: keep README as it is.\n\n## t1\n".write(
            toFile: setup.bus.bus.layout.run(run) + "/SPEC.md", atomically: true, encoding: .utf8)
    }

    func build(_ setup: Setup, run: String = "r1", task: String = "t1") throws -> String {
        let worker = try WorkerID.current(role: "planner")
        let body: [String: JSONValue] = [
            "repository": .string(setup.repository), "base": .string(setup.base), "attempt": 1,
            "title": "write agent.txt", "prompt": "write agent.txt saying hello", "scope": ["agent.txt"],
        ]
        let envelope = Envelope(run: run, task: task, kind: "build", from: worker, to: "builder", body: body)
        try Publisher(bus: setup.bus.bus, worker: worker).publish(envelope)
        return envelope.id
    }

    /// The `built` envelope caused by `id`, once it is in the verifier's queue.
    func built(_ setup: Setup, causedBy id: String) -> Envelope? {
        setup.bus.pending("verifier", causedBy: id)
    }

    func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// Shell that prints one line of JSON.
    static func say(_ json: String) -> String { "printf '%s\\n' '\(json)'" }

    static let initEvent = say(
        #"{"type":"system","subtype":"init","session_id":"\#(session)","model":"claude-sonnet-4-5"}"#)

    static let success = say(
        #"{"type":"result","subtype":"success","is_error":false,"session_id":"\#(session)","result":"Wrote agent.txt.\nSTEP REPORT\n- changed: agent.txt\n- checked: cat agent.txt\n- open: nothing","usage":{"input_tokens":1200,"output_tokens":80,"cache_read_input_tokens":300},"total_cost_usd":0.0123}"#
    )

    @Test("the agent builds in the work tree: commit, usage, step report, transcript, prompt and session")
    func agentBuilds() async throws {
        let setup = try await setUp(
            body: "echo 'hello from the agent' > agent.txt\n\(Self.initEvent)\n\(Self.success)\nexit 0")
        defer { setup.fake.remove() }
        try storeGoal(setup, run: "r1")
        let role = try builder(setup)
        defer { role.send(SIGKILL) }
        let id = try build(setup)
        #expect(await eventually { built(setup, causedBy: id) != nil })
        let body = try #require(built(setup, causedBy: id)).body

        // The commit holds the agent's change.
        let commit = try #require(body["commit"]?.stringValue)
        #expect(try await setup.git.run(["show", "\(commit):agent.txt"]) == "hello from the agent")
        #expect(try await setup.git.run(["rev-parse", "\(commit)^"]) == setup.base)
        #expect(body["diff"]?["paths"] == .array(["agent.txt"]))
        #expect(body["step_exit"] == 0)
        #expect(body["step_timed_out"] == false)
        #expect(body["agent_outcome"] == nil)

        // Usage, the agent and its session.
        let usage = try #require(body["usage"]?.arrayValue)
        #expect(usage.count == 1)
        #expect(usage.first?["role"] == "builder")
        #expect(usage.first?["agent"] == "claude")
        #expect(usage.first?["input"] == 1200)
        #expect(usage.first?["output"] == 80)
        #expect(usage.first?["session"] == .string(Self.session))
        #expect(body["agent"]?["name"] == "claude")
        #expect(body["agent"]?["outcome"] == "ok")
        #expect(body["agent"]?["session"] == .string(Self.session))

        // The step report is the agent's final text.
        let folder = setup.bus.bus.layout.run("r1") + "/t1/1"
        #expect(body["step_report"] == .string(folder + "/step-report.md"))
        #expect(text(folder + "/step-report.md").contains("STEP REPORT\n- changed: agent.txt"))

        // The transcript has the stream; the prompt beside it has the task, the goal, the gates
        // and the invariants; the agent ran in the work tree.
        let log = text(folder + "/builder.log")
        #expect(log.contains(#""subtype":"init""#))
        #expect(log.contains(#""type":"result""#))
        let prompt = text(folder + "/builder.log.prompt.md")
        #expect(prompt.contains("write agent.txt saying hello"))
        #expect(prompt.contains("greet people kindly"))
        #expect(prompt.contains("- has-file: `/bin/sh -c 'test -f agent.txt'`"))
        #expect(prompt.contains("Invariants for every task: keep README as it is."))
        #expect(prompt.contains("## Scope: the only paths you may change\nagent.txt\n"))
        #expect(prompt.contains("## Feedback from the previous attempt\nnone"))
        #expect(prompt.contains("## Earlier work on this attempt\nnone"))
        // The agent was given the prompt that was saved (its last argument, one per line).
        #expect(text(setup.fake.argumentsFile).hasSuffix("--\n" + prompt + "\n"))
        let cwd = text(setup.fake.path("pwd")).trimmingCharacters(in: .newlines)
        #expect(cwd.hasPrefix(setup.bus.bus.layout.run("r1") + "/trees/@builder."))

        // The session is recorded for the task.
        let sessions = BuilderSessions(layout: setup.bus.bus.layout, run: "r1", task: "t1").entries()
        #expect(sessions.count == 1)
        #expect(sessions.first?["session"] == .string(Self.session))
        #expect(sessions.first?["agent"] == "claude")
        #expect(sessions.first?["attempt"] == 1)
        #expect(sessions.first?["epoch"] == 1)

        // No work tree is left once the queue is empty.
        #expect(await eventually { workTreeRecords(of: setup.repository).isEmpty })
    }

    @Test("every agent limited: the envelope is deferred until the reset, the limit is shared, nothing committed")
    func limitDefers() async throws {
        let reset = Int(Date().timeIntervalSince1970) + 3600
        let limit = Self.say(
            #"{"type":"result","subtype":"success","is_error":true,"session_id":"\#(Self.session)","result":"Claude AI usage limit reached|\#(reset)","usage":{"input_tokens":0,"output_tokens":0}}"#
        )
        let setup = try await setUp(body: "echo partial > agent.txt\n\(Self.initEvent)\n\(limit)\nexit 0")
        defer { setup.fake.remove() }
        let role = try builder(setup)
        defer { role.send(SIGKILL) }
        let id = try build(setup)
        let layout = setup.bus.bus.layout
        func deferred() -> Bool {
            ((try? FileManager.default.contentsOfDirectory(atPath: layout.retry("builder"))) ?? []).contains {
                $0.hasPrefix(id)
            }
        }
        #expect(await eventually { deferred() })
        let release = JournalReader(layout: layout).events(run: "r1").first { $0.event == .release && $0.id == id }
        #expect(release?.notBefore == Int64(reset) * 1000)
        #expect(FileManager.default.fileExists(atPath: layout.root + "/quota/claude.json"))
        let quota = try JSONValue.parse(
            Array(try #require(FileManager.default.contents(atPath: layout.root + "/quota/claude.json"))))
        #expect(quota["until"]?.stringValue.flatMap(Timestamp.init(rfc3339:))?.milliseconds == Int64(reset) * 1000)
        // Nothing committed or sent, and the work tree is gone.
        #expect(try await setup.git.commit(of: "planbus/r1/t1/1") == setup.base)
        #expect(built(setup, causedBy: id) == nil)
        #expect(!FileManager.default.fileExists(atPath: layout.run("r1") + "/t1/1/step-report.md"))
        #expect(workTreeRecords(of: setup.repository).isEmpty)
        #expect(role.exitStatus == nil)
    }

    @Test("a call cut off by the builder's death is resumed by the holder that takes the envelope over")
    func takeoverResumes() async throws {
        let release = NSTemporaryDirectory() + "planbus-release-" + UUID().uuidString
        defer { _ = FileManager.default.createFile(atPath: release, contents: nil) }
        // Resumed: builds and succeeds. Fresh: prints its session, then hangs until released.
        let body = """
            case "$*" in
              *--resume=*) echo 'after the takeover' > agent.txt; \(Self.initEvent); \(Self.success); exit 0;;
            esac
            \(Self.initEvent)
            while [ ! -e '\(release)' ]; do sleep 0.05; done
            exit 1
            """
        let setup = try await setUp(body: body)
        defer { setup.fake.remove() }
        let first = try builder(setup, output: "first.out")
        defer { first.send(SIGKILL) }
        let id = try build(setup)
        let log = setup.bus.bus.layout.run("r1") + "/t1/1/builder.log"
        #expect(await eventually { text(log).contains(Self.session) })
        first.send(SIGKILL)
        _ = await first.wait(timeout: testProcessTimeout)

        let second = try builder(setup, output: "second.out")
        defer { second.send(SIGKILL) }
        #expect(await eventually { built(setup, causedBy: id) != nil })
        let body2 = try #require(built(setup, causedBy: id)).body
        #expect(setup.fake.arguments.contains("--resume=\(Self.session)"))
        let commit = try #require(body2["commit"]?.stringValue)
        #expect(try await setup.git.run(["show", "\(commit):agent.txt"]) == "after the takeover")
        let transcript = text(log)
        #expect(transcript.contains("the call of epoch 1 was interrupted: resuming its session \(Self.session)"))
        #expect(transcript.contains("(envelope \(id), epoch 2)"))
        let prompt = text(log + ".prompt.md")
        #expect(prompt.contains("### Previous attempt was interrupted"))
        let sessions = BuilderSessions(layout: setup.bus.bus.layout, run: "r1", task: "t1").entries()
        #expect(sessions.last?["epoch"] == 2)
        #expect(sessions.last?["session"] == .string(Self.session))
    }

    @Test("an agent that fails is reported as it is: its change committed, no step exit, the outcome named")
    func failureReported() async throws {
        let failed = Self.say(
            #"{"type":"result","subtype":"error_during_execution","is_error":true,"session_id":"\#(Self.session)","result":"the tool crashed","usage":{"input_tokens":10,"output_tokens":2}}"#
        )
        let setup = try await setUp(body: "echo half > agent.txt\n\(Self.initEvent)\n\(failed)\nexit 1")
        defer { setup.fake.remove() }
        let role = try builder(setup)
        defer { role.send(SIGKILL) }
        let id = try build(setup)
        #expect(await eventually { built(setup, causedBy: id) != nil })
        let body = try #require(built(setup, causedBy: id)).body
        #expect(body["agent_outcome"] == "error")
        #expect(body["step_exit"] == .null)
        #expect(body["step_timed_out"] == false)
        #expect(body["agent"]?["outcome"] == "error")
        #expect(body["agent"]?["message"]?.stringValue?.contains("the tool crashed") == true)
        #expect(body["usage"]?.arrayValue?.first?["outcome"] == "error")
        let commit = try #require(body["commit"]?.stringValue)
        #expect(try await setup.git.run(["show", "\(commit):agent.txt"]) == "half")
        // The goal was not stored: the prompt says so rather than inventing one.
        let prompt = text(setup.bus.bus.layout.run("r1") + "/t1/1/builder.log.prompt.md")
        #expect(prompt.contains("## Goal of the run\n(not given)"))
        #expect(prompt.contains("## Gates the verifier will run\n(not given)"))
    }

    @Test("an interrupted call that named no session: the next holder starts afresh with the end of its transcript")
    func takeoverStartsAfresh() async throws {
        let release = NSTemporaryDirectory() + "planbus-release-" + UUID().uuidString
        defer { _ = FileManager.default.createFile(atPath: release, contents: nil) }
        let setup = try await setUp(body: "")
        defer { setup.fake.remove() }
        let calls = setup.fake.path("calls")
        // The first call prints progress without a session, then hangs; the second one builds.
        try setup.fake.install(
            body: """
                echo call >> '\(calls)'
                if [ "$(wc -l < '\(calls)')" -gt 1 ]; then
                  echo 'built afresh' > agent.txt; \(Self.initEvent); \(Self.success); exit 0
                fi
                echo 'reading the README before the change'
                while [ ! -e '\(release)' ]; do sleep 0.05; done
                exit 1
                """)
        let first = try builder(setup, output: "first.out")
        defer { first.send(SIGKILL) }
        let id = try build(setup)
        let log = setup.bus.bus.layout.run("r1") + "/t1/1/builder.log"
        #expect(await eventually { text(log).contains("reading the README before the change") })
        first.send(SIGKILL)
        _ = await first.wait(timeout: testProcessTimeout)

        let second = try builder(setup, output: "second.out")
        defer { second.send(SIGKILL) }
        #expect(await eventually { built(setup, causedBy: id) != nil })
        #expect(!setup.fake.arguments.contains { $0.hasPrefix("--resume") })
        #expect(
            text(log).contains(
                "the call of epoch 1 was interrupted and its transcript names no session: starting afresh"))
        let prompt = text(log + ".prompt.md")
        #expect(prompt.contains("### Previous attempt was interrupted"))
        #expect(prompt.contains("reading the README before the change"))
        let commit = try #require(built(setup, causedBy: id)?.body["commit"]?.stringValue)
        #expect(try await setup.git.run(["show", "\(commit):agent.txt"]) == "built afresh")
    }

    @Test("a plan with a task without run is accepted only when the builder drives an agent")
    func runSupport() async throws {
        let folder = try TemporaryBus()
        let repository = folder.root + "/repo"
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        try await Git(directory: repository).run(["init", "-q", "-b", "main"])
        let plan = try PlanLoader.parse(
            """
            version: 1
            name: agentless
            goal: g
            risk: low
            repository: \(repository)
            tasks:
              - id: a
                title: a
                prompt: do a
                scope: [a.txt]
            """, file: folder.root + "/plan.yaml")
        let offline = RunSupport.unsupported(plan)
        #expect(offline.count == 1)
        #expect(offline.first?.contains("task a has no run step") == true)
        #expect(RunSupport.unsupported(plan, agents: AgentSettings(roleAgents: ["builder": "none"])).count == 1)
        #expect(RunSupport.unsupported(plan, agents: AgentSettings(roleAgents: ["verifier": "claude"])).count == 1)
        #expect(RunSupport.unsupported(plan, agents: AgentSettings(roleAgents: ["builder": "claude"])).isEmpty)
    }

    @Test("the probe finds an earlier holder's part of the transcript and its session, for each stream CLI")
    func probe() {
        let header1 = AgentSessionProbe.header(
            time: .now(), attempt: 1, task: "t1", worker: "builder.h.1.a", envelope: "E", epoch: 1)
        let other = AgentSessionProbe.header(
            time: .now(), attempt: 1, task: "t1", worker: "builder.h.1.a", envelope: "F", epoch: 1)
        let lines = (1...50).map { "line \($0)" }
        for (event, session) in [
            (#"{"type":"system","subtype":"init","session_id":"c-1"}"#, "c-1"),
            (#"{"type":"thread.started","thread_id":"x-2"}"#, "x-2"),
            (#"{"type":"init","session_id":"g-3","model":"gemini-2.5-pro"}"#, "g-3"),
        ] {
            let transcript = ([other, #"{"session_id":"not-this"}"#, header1, event] + lines).joined(separator: "\n")
            let probe = AgentSessionProbe(transcript: transcript, envelope: "E", epoch: 2)
            #expect(probe?.session == session)
            #expect(probe?.epoch == 1)
            #expect(probe?.tail().split(separator: "\n").count == 40)
            #expect(probe?.tail().hasSuffix("line 50") == true)
            // The holder itself, at epoch 1, has no earlier part; another envelope's part is not it.
            #expect(AgentSessionProbe(transcript: transcript, envelope: "E", epoch: 1) == nil)
            #expect(AgentSessionProbe(transcript: transcript, envelope: "G", epoch: 2) == nil)
        }
        let noSession = AgentSessionProbe(transcript: header1 + "\nplain text\n", envelope: "E", epoch: 3)
        #expect(noSession?.session == nil)
        #expect(noSession?.lines == [header1, "plain text"])
        #expect(noSession?.ended == false)
        // A call that ended (handed back on a limit, say) was not cut off.
        let limited = [
            header1, #"{"type":"system","subtype":"init","session_id":"c-1"}"#,
            AgentSessionProbe.ended(time: .now(), outcome: "rate_limited: usage limit"),
        ].joined(separator: "\n")
        #expect(AgentSessionProbe(transcript: limited, envelope: "E", epoch: 2)?.ended == true)
    }

    @Test(
        "a repository's prompt template that does not render: the attempt is reported as not started, the agent never called"
    )
    func badTemplate() async throws {
        let setup = try await setUp(body: "echo called > '$HOME/called'")
        try FileManager.default.createDirectory(
            atPath: setup.repository + "/.planbus/prompts", withIntermediateDirectories: true)
        try "Build {{task}} for {{nonsense}}.\n".write(
            toFile: setup.repository + "/.planbus/prompts/builder.md", atomically: true, encoding: .utf8)
        let role = try builder(setup)
        defer { role.send(SIGKILL) }
        let id = try build(setup)
        #expect(await eventually { built(setup, causedBy: id) != nil })
        let body = try #require(built(setup, causedBy: id)).body
        #expect(body["agent_outcome"] == "setup" && body["commit"] == .null)
        let message = body["agent"]?["message"]?.stringValue ?? ""
        #expect(message.contains(".planbus/prompts/builder.md") && message.contains("{{nonsense}}"))
        #expect(!FileManager.default.fileExists(atPath: setup.fake.argumentsFile))
        #expect(setup.bus.doneNames("builder").contains { $0.hasPrefix(id) })
    }

}
