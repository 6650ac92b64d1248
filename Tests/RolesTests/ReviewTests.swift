import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A bus with a run's goal already taken by the planner, a repository, and fake agents (scripts
/// run through the `command` adapter) for `planbus role verifier` and `planbus role judge`
/// processes.
final class ReviewBench: @unchecked Sendable {
    let bus: TemporaryBus
    let git: Git
    let repository: String
    let base: String
    let run = "r1"
    private var roles: [ChildProcess] = []

    /// - Parameter tasks: the plan's `tasks:` entries (YAML, indented by two spaces).
    init(tasks: String) async throws {
        bus = try TemporaryBus(settings: .testing, roles: ["planner", "verifier", "judge"])
        repository = bus.root + "/repo"
        git = try await Git.create(at: repository, files: [("README", "start\n")], message: "start")
        base = try await git.commit(of: "main")
        try await git.run(["branch", RunMessages.integrationBranch(run), base])
        let planFile = bus.root + "/plan.yaml"
        let plan = "version: 1\nname: review\ngoal: check reviews\nrisk: low\nrepository: repo\ntasks:\n" + tasks
        try plan.write(toFile: planFile, atomically: true, encoding: .utf8)
        let goal = Envelope(
            run: run, kind: RunMessages.goal, from: try WorkerID.current(role: "planbus"), to: "planner",
            body: ["plan_file": .string(planFile), "plan_text": .string(plan), "summary": "the run"])
        let day = bus.bus.layout.done("planner", day: QueueNames.day(of: goal.id))
        try FileManager.default.createDirectory(atPath: day, withIntermediateDirectories: true)
        try Data(try goal.encoded()).write(
            to: URL(fileURLWithPath: day + "/" + QueueNames.settled(id: goal.id, epoch: 1)))
    }

    deinit {
        for role in roles { role.send(SIGKILL) }
    }

    /// A fake agent `name` answering `answer` (the model's reply text), or `error` (the command
    /// adapter's error object); it keeps each prompt it gets as `agents/<name>.prompt`.
    func agent(_ name: String, answer: String? = nil, error: JSONValue? = nil) throws -> JSONValue {
        let folder = bus.root + "/agents"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var reply: [String: JSONValue] = ["usage": ["input": 120, "output": 30, "cost_usd": .number(0.002)]]
        if let answer { reply["text"] = .string(answer) }
        if let error { reply["error"] = error }
        try JSONValue.object(reply).serialized().write(
            toFile: folder + "/\(name).json", atomically: true, encoding: .utf8)
        let script = folder + "/\(name).sh"
        try "#!/bin/sh\ncp \"$1\" '\(folder)/\(name).prompt'\ncat '\(folder)/\(name).json'\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return ["agent": "command", "command": [.string(script), "{prompt_file}"], "output": "json"]
    }

    /// The prompt agent `name` was given, if it was called.
    func prompt(of name: String) -> String? {
        try? String(contentsOfFile: bus.root + "/agents/\(name).prompt", encoding: .utf8)
    }

    /// Starts `planbus role <role>`, driving the agents of `settings` (`nil`: offline).
    func start(_ role: String, settings: JSONValue?) throws {
        var arguments = [
            Executables.planbus, "role", role, "--bus", bus.path, "--envelope-timeout", "5m", "--stop-grace", "2s",
        ]
        if let settings {
            arguments += ["--agent", "command", "--agent-settings", settings.serialized()]
        } else {
            arguments += ["--agent", "none"]
        }
        roles.append(
            try ChildProcess.spawn(
                arguments, stdout: .file(bus.root + "/\(role).out"), stderr: .file(bus.root + "/\(role).out")))
    }

    /// Commits `files` on the attempt's branch, made from the base, and returns the branch and commit.
    func commit(task: String, attempt: Int, candidate: Int = 1, files: [(String, String)]) async throws
        -> (branch: String, commit: String)
    {
        let branch = "planbus/\(run)/\(task)/\(attempt)" + (candidate > 1 ? "-c\(candidate)" : "")
        let tree = bus.root + "/tree-\(task)-\(attempt)-\(candidate)"
        let work = try await git.addWorktree(at: tree, branch: branch, from: base)
        for (path, text) in files { try text.write(toFile: tree + "/" + path, atomically: true, encoding: .utf8) }
        let commit = try #require(try await work.commitAll(message: "\(task): change", trailers: []))
        try await git.removeWorktree(at: tree)
        return (branch, commit)
    }

    /// Publishes a `built` envelope for `commit` to the verifier.
    func built(
        task: String, attempt: Int = 1, candidate: Int = 1, branch: String, commit: String,
        extra: [String: JSONValue] = [:]
    ) throws -> Envelope {
        var body: [String: JSONValue] = [
            "repository": .string(repository), "base": .string(base), "attempt": .number(Double(attempt)),
            "candidate": .number(Double(candidate)), "title": .string(task), "branch": .string(branch),
            "commit": .string(commit), "step_exit": 0, "step_signal": .null, "step_timed_out": false,
            "log": .string(bus.bus.layout.run(run) + "/\(task)/\(attempt)/builder.log"),
        ]
        body.merge(extra) { _, new in new }
        let worker = try WorkerID.current(role: "builder")
        let envelope = Envelope(
            run: run, task: task, kind: RunMessages.built, from: worker, to: "verifier", attempt: attempt, body: body)
        try Publisher(bus: bus.bus, worker: worker).publish(envelope)
        return envelope
    }

    /// The envelopes of `kind` waiting in `role`'s `new/`, or acked into its `done/`.
    func envelopes(to role: String, kind: String) -> [Envelope] {
        let layout = bus.bus.layout
        var folders = [layout.new(role)]
        for day in (try? FileManager.default.contentsOfDirectory(atPath: layout.done(role))) ?? [] {
            folders.append(layout.done(role) + "/" + day)
        }
        return folders.flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { name in
                FileManager.default.contents(atPath: folder + "/" + name).flatMap { try? Envelope(decoding: Array($0)) }
            }
        }.filter { $0.kind == kind && $0.run == run }
    }

    /// The verdict for `task` in the planner's queue, once it is there.
    func verdict(_ task: String) async -> Envelope? {
        _ = await eventually { !envelopes(to: "planner", kind: RunMessages.verdict).filter { $0.task == task }.isEmpty }
        return envelopes(to: "planner", kind: RunMessages.verdict).first { $0.task == task }
    }

    /// The plan's tasks for one task `id` writing `file`, with a passing gate.
    static func task(_ id: String, file: String) -> String {
        """
          - id: \(id)
            title: write \(file)
            prompt: write \(file) with a greeting
            scope: [\(file)]
            run: echo hi > \(file)
            gates:
              - name: there
                command: [test, -f, \(file)]

        """
    }
}

/// The answer text of a reviewing model.
func reviewAnswer(approved: Bool, issues: [String] = [], followups: [JSONValue] = []) -> String {
    JSONValue.object([
        "approved": .bool(approved), "issues": .array(issues.map(JSONValue.string)), "followups": .array(followups),
    ]).serialized()
}

/// The verifier's model review, in real `planbus role verifier` (and judge) processes with fake
/// agents, on a real repository.
@Suite("Verifier review", .serialized)
struct ReviewTests {
    @Test("an approving review leaves the integrated path as it was, with the review and its usage in the verdict")
    func approves() async throws {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        let primary = try bench.agent("primary", answer: reviewAnswer(approved: true))
        try bench.start("verifier", settings: ["primary": primary])
        let (branch, commit) = try await bench.commit(task: "t1", attempt: 1, files: [("a.txt", "hello reviewer\n")])
        _ = try bench.built(task: "t1", branch: branch, commit: commit)

        let verdict = try #require(await bench.verdict("t1"))
        #expect(verdict.body["verdict"] == "approved")
        let merge = try #require(verdict.body["integrated"]?.stringValue)
        #expect(try await bench.git.commit(of: RunMessages.integrationBranch(bench.run)) == merge)
        #expect(verdict.body["gates"]?.arrayValue?.count == 1)
        let usage = try #require(verdict.body["usage"]?.arrayValue)
        #expect(usage.count == 1)
        #expect(usage.first?["role"] == "verifier")
        #expect(usage.first?["outcome"] == "ok")
        #expect(usage.first?["input"] == 120)
        let log = bench.bus.bus.layout.run(bench.run) + "/t1/1/review.log"
        #expect(verdict.body["review"]?["approved"] == true)
        #expect(verdict.body["review"]?["log"] == .string(log))
        #expect(verdict.body["followups"] == .array([]))
        #expect(FileManager.default.fileExists(atPath: log + ".prompt.md"))
        // The reviewer saw the task and the diff of the commit.
        let prompt = try #require(bench.prompt(of: "primary"))
        #expect(prompt.contains("write a.txt with a greeting"))
        #expect(prompt.contains("+hello reviewer"))
        #expect(prompt.contains("there: passed"))
        #expect(prompt.contains("The diff is complete"))
        // The checkout it reviewed is gone.
        let trees = (try? FileManager.default.contentsOfDirectory(atPath: bench.bus.bus.layout.run("r1") + "/verify"))
        #expect(trees ?? [] == [])
    }

    @Test("a rejecting review rejects with its issues as feedback, and its followups in the verdict")
    func rejects() async throws {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        let answer = reviewAnswer(
            approved: false, issues: ["the greeting is misspelt", "no newline handling"],
            followups: [["title": "add a farewell", "prompt": "write b.txt", "scope": ["b.txt"]]])
        try bench.start("verifier", settings: ["primary": try bench.agent("primary", answer: answer)])
        let (branch, commit) = try await bench.commit(task: "t1", attempt: 1, files: [("a.txt", "helo\n")])
        _ = try bench.built(task: "t1", branch: branch, commit: commit)

        let verdict = try #require(await bench.verdict("t1"))
        #expect(verdict.body["verdict"] == "rejected")
        #expect(verdict.body["integrated"] == .null)
        let feedback = try #require(verdict.body["feedback"]?.stringValue)
        #expect(feedback.contains("the greeting is misspelt"))
        #expect(feedback.contains("no newline handling"))
        #expect(verdict.body["findings"]?.arrayValue?.allSatisfy { $0["check"] == "review" } == true)
        #expect(verdict.body["findings"]?.arrayValue?.count == 2)
        let followups = try #require(verdict.body["followups"]?.arrayValue)
        #expect(followups == [["title": "add a farewell", "prompt": "write b.txt", "scope": ["b.txt"]]])
        #expect(verdict.body["review"]?["approved"] == false)
        #expect(try await bench.git.commit(of: RunMessages.integrationBranch(bench.run)) == bench.base)
    }

    @Test("an answer that is not the review's JSON rejects, saying why")
    func unreadable() async throws {
        let bench = try await ReviewBench(
            tasks: ReviewBench.task("t1", file: "a.txt") + ReviewBench.task("t2", file: "b.txt"))
        let primary = try bench.agent("primary", answer: "Looks good to me!")
        try bench.start("verifier", settings: ["primary": primary])
        let one = try await bench.commit(task: "t1", attempt: 1, files: [("a.txt", "hi\n")])
        _ = try bench.built(task: "t1", branch: one.branch, commit: one.commit)
        let verdict = try #require(await bench.verdict("t1"))
        #expect(verdict.body["verdict"] == "rejected")
        #expect(verdict.body["feedback"]?.stringValue?.contains("was refused") == true)
        #expect(verdict.body["usage"]?.arrayValue?.count == 1)

        // JSON with a field of the wrong type is refused too.
        _ = try bench.agent("primary", answer: #"{"approved": "yes", "issues": [], "followups": []}"#)
        let two = try await bench.commit(task: "t2", attempt: 1, files: [("b.txt", "hi\n")])
        _ = try bench.built(task: "t2", branch: two.branch, commit: two.commit)
        let second = try #require(await bench.verdict("t2"))
        #expect(second.body["verdict"] == "rejected")
        #expect(second.body["feedback"]?.stringValue?.contains("\"approved\" is missing or not true/false") == true)
    }

    @Test("a builder whose agent failed is rejected with the outcome and message, and nothing is reviewed")
    func builderAgentFailed() async throws {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        try bench.start(
            "verifier", settings: ["primary": try bench.agent("primary", answer: reviewAnswer(approved: true))])
        let (branch, commit) = try await bench.commit(task: "t1", attempt: 1, files: [("a.txt", "hi\n")])
        _ = try bench.built(
            task: "t1", branch: branch, commit: commit,
            extra: [
                "agent_outcome": "timeout", "agent": ["outcome": "timeout", "message": "ran past 30m"],
                "step_exit": .null,
                "step_timed_out": true,
            ])
        let verdict = try #require(await bench.verdict("t1"))
        #expect(verdict.body["verdict"] == "rejected")
        let feedback = try #require(verdict.body["feedback"]?.stringValue)
        #expect(feedback.contains("the builder's agent failed: timeout: ran past 30m"))
        #expect(verdict.body["findings"]?.arrayValue?.count == 1)
        #expect(bench.prompt(of: "primary") == nil)
        #expect(verdict.body["usage"] == nil)
    }

    @Test("a rate-limited review hands the built envelope back until the limit resets")
    func rateLimited() async throws {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        let resets = Int(Date().timeIntervalSince1970) + 3600
        let primary = try bench.agent(
            "primary",
            error: ["type": "rate_limit", "message": "usage limit reached", "resets_at": .number(Double(resets))])
        try bench.start("verifier", settings: ["primary": primary])
        let (branch, commit) = try await bench.commit(task: "t1", attempt: 1, files: [("a.txt", "hi\n")])
        let built = try bench.built(task: "t1", branch: branch, commit: commit)
        let layout = bench.bus.bus.layout
        let retry = layout.retry("verifier")
        #expect(
            await eventually {
                ((try? FileManager.default.contentsOfDirectory(atPath: retry)) ?? []).contains {
                    $0.hasPrefix(built.id)
                }
            })
        #expect(bench.prompt(of: "primary") != nil)
        #expect(bench.envelopes(to: "planner", kind: RunMessages.verdict).isEmpty)
        let trees = try? FileManager.default.contentsOfDirectory(atPath: layout.run(bench.run) + "/verify")
        #expect(trees ?? [] == [])
        #expect(try await bench.git.commit(of: RunMessages.integrationBranch(bench.run)) == bench.base)
    }

    @Test("two reviewers that disagree ask the judge, whose decision the verdict carries")
    func splitGoesToTheJudge() async throws {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        let primary = try bench.agent("primary", answer: reviewAnswer(approved: true))
        let second = try bench.agent("second", answer: reviewAnswer(approved: false, issues: ["too terse"]))
        let judge = try bench.agent(
            "judge", answer: #"{"approved": true, "reasons": ["terse is what the task asks"]}"#)
        try bench.start("verifier", settings: ["primary": primary, "reviewer": second])
        try bench.start("judge", settings: ["primary": judge])
        let (branch, commit) = try await bench.commit(task: "t1", attempt: 1, files: [("a.txt", "hi\n")])
        _ = try bench.built(task: "t1", branch: branch, commit: commit)

        let verdict = try #require(await bench.verdict("t1"))
        // The judge was asked, with both reviews and the diff.
        let asked = try #require(bench.envelopes(to: "judge", kind: RunMessages.judge).first)
        #expect(asked.body["mode"] == "review")
        #expect(asked.body["reviews"]?.arrayValue?.count == 2)
        let prompt = try #require(bench.prompt(of: "judge"))
        #expect(prompt.contains("too terse"))
        #expect(prompt.contains("+hi"))
        #expect(bench.prompt(of: "second") != nil)
        // Its decision is the verdict: approved and integrated.
        #expect(verdict.body["verdict"] == "approved")
        let merge = try #require(verdict.body["integrated"]?.stringValue)
        #expect(try await bench.git.commit(of: RunMessages.integrationBranch(bench.run)) == merge)
        #expect(verdict.body["review"]?["judge"]?["decided_by"] == "model")
        #expect(verdict.body["review"]?["judge"]?["reasons"] == ["terse is what the task asks"])
        #expect(verdict.body["review"]?["reviews"]?.arrayValue?.count == 2)
        let usage = try #require(verdict.body["usage"]?.arrayValue)
        // The two reviews are the verifier's own calls; the judge's call is counted in its
        // judgment and only relayed here, for the planner's cost limits.
        #expect(usage.map { $0["role"] } == ["verifier", "verifier"])
        #expect(verdict.body["relayed_usage"]?.arrayValue?.map { $0["role"] } == ["judge"])
        let folder = bench.bus.bus.layout.run(bench.run) + "/t1/1"
        #expect(FileManager.default.fileExists(atPath: folder + "/review-2.log.prompt.md"))
        #expect(FileManager.default.fileExists(atPath: folder + "/judge-review.log.prompt.md"))
    }

    @Test("two reviewers that disagree, with an offline judge: the rejecting review stands")
    func splitOffline() async throws {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        let primary = try bench.agent("primary", answer: reviewAnswer(approved: false, issues: ["wrong file"]))
        let second = try bench.agent("second", answer: reviewAnswer(approved: true))
        try bench.start("verifier", settings: ["primary": primary, "reviewer": second])
        try bench.start("judge", settings: nil)
        let (branch, commit) = try await bench.commit(task: "t1", attempt: 1, files: [("a.txt", "hi\n")])
        _ = try bench.built(task: "t1", branch: branch, commit: commit)

        let verdict = try #require(await bench.verdict("t1"))
        #expect(verdict.body["verdict"] == "rejected")
        let feedback = try #require(verdict.body["feedback"]?.stringValue)
        #expect(feedback.contains("wrong file"))
        #expect(feedback.contains("no model settles the disagreement"))
        #expect(verdict.body["review"]?["judge"]?["decided_by"] == "rule")
        #expect(try await bench.git.commit(of: RunMessages.integrationBranch(bench.run)) == bench.base)
    }
}
