import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The builder role in a real `planbus role builder` process, on a real git repository.
@Suite("Builder", .serialized)
struct BuilderTests {
    struct Setup {
        let bus: TemporaryBus
        let repository: String
        let git: Git
        let base: String
        let role: ChildProcess
    }

    func setUp() async throws -> Setup {
        let bus = try TemporaryBus(settings: .testing, roles: ["builder", "verifier"])
        let repository = bus.root + "/repo"
        let git = try await Git.create(at: repository, files: [("README", "hello\n")], message: "start")
        let base = try await git.commit(of: "main")
        let role = try ChildProcess.spawn(
            [
                Executables.planbus, "role", "builder", "--bus", bus.path, "--agent", "none", "--envelope-timeout",
                "5m",
                "--stop-grace", "2s",
            ], stdout: .file(bus.root + "/builder.out"), stderr: .file(bus.root + "/builder.out"))
        return Setup(bus: bus, repository: repository, git: git, base: base, role: role)
    }

    func build(_ setup: Setup, task: String, attempt: Int, step: String?, feedback: String? = nil) throws -> String {
        let worker = try WorkerID.current(role: "planner")
        var body: [String: JSONValue] = [
            "repository": .string(setup.repository), "base": .string(setup.base), "attempt": .number(Double(attempt)),
            "title": "make out.txt",
        ]
        if let step { body["step"] = .string(step) }
        if let feedback { body["feedback"] = .string(feedback) }
        let envelope = Envelope(run: "r1", task: task, kind: "build", from: worker, to: "builder", body: body)
        try Publisher(bus: setup.bus.bus, worker: worker).publish(envelope)
        return envelope.id
    }

    /// The `built` envelope caused by `id`, once it is in the verifier's queue.
    func built(_ setup: Setup, causedBy id: String) -> Envelope? {
        setup.bus.pending("verifier", causedBy: id)
    }

    @Test("a step builds in its own work tree; the commit carries trailers; built goes to the verifier")
    func buildsAndCommits() async throws {
        let setup = try await setUp()
        defer { setup.role.send(SIGKILL) }
        let step =
            "echo \"built $PLANBUS_TASK $PLANBUS_ATTEMPT\" > out.txt; echo step-output; cat \"$PLANBUS_FEEDBACK\""
        let id = try build(setup, task: "t1", attempt: 2, step: step, feedback: "the gate said: fix it")
        #expect(await eventually { built(setup, causedBy: id) != nil })
        let envelope = try #require(built(setup, causedBy: id))
        #expect(envelope.kind == "built")
        #expect(envelope.task == "t1")
        let body = envelope.body
        #expect(body["step_exit"] == 0)
        #expect(body["branch"] == "planbus/r1/t1/2")
        let commit = try #require(body["commit"]?.stringValue)
        #expect(body["diff"]?["paths"] == .array(["out.txt"]))
        #expect(body["diff"]?["insertions"] == 1)

        // The commit is on the attempt's branch, with its trailers, on top of the base.
        #expect(try await setup.git.commit(of: "planbus/r1/t1/2") == commit)
        let message = try await setup.git.run(["log", "-1", "--format=%B", commit])
        #expect(message.contains("t1: make out.txt"))
        #expect(message.contains("Planbus-Run: r1"))
        #expect(message.contains("Planbus-Task: t1"))
        #expect(message.contains("Planbus-Attempt: 2"))
        #expect(try await setup.git.run(["show", "\(commit):out.txt"]) == "built t1 2")
        #expect(try await setup.git.run(["rev-parse", "\(commit)^"]) == setup.base)
        // The user's branch is untouched, and the work tree is gone once the queue is empty.
        #expect(try await setup.git.commit(of: "main") == setup.base)
        #expect(await eventually { workTreeRecords(of: setup.repository).isEmpty })

        // The log streamed the step's output and the feedback it was given.
        let log = try #require(body["log"]?.stringValue)
        #expect(log == setup.bus.bus.layout.run("r1") + "/t1/2/builder.log")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("step-output"))
        #expect(text.contains("the gate said: fix it"))
    }

    @Test(
        "a build starts in the builder's other work tree while the last is committed; a kept tree is reused reset and cleaned; they go once the queue is empty"
    )
    func keptTreeIsReusedClean() async throws {
        let setup = try await setUp()
        defer { setup.role.send(SIGKILL) }
        try "*.out\n".write(toFile: setup.repository + "/.git/info/exclude", atomically: true, encoding: .utf8)
        let root = setup.bus.root
        // The commit of t1 (`git commit` runs the post-commit hook) holds until the test lets it go.
        let hook = setup.repository + "/.git/hooks/post-commit"
        try
            "#!/bin/sh\ncase \"$(git log -1 --format=%s)\" in t1:*) while [ ! -e '\(root)/commit-t1' ]; do sleep 0.05; done;; esac\n"
            .write(toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
        // The first step leaves a committed file, an ignored one and an empty folder (which git
        // does not track).
        let first = try build(
            setup, task: "t1", attempt: 1,
            step: "pwd > '\(root)/first.pwd'; echo one > one.txt; echo cache > cache.out; mkdir empty")
        #expect(await eventually { FileManager.default.fileExists(atPath: root + "/first.pwd") })
        // While the first is being committed, the second builds in the builder's other tree.
        let second = try build(setup, task: "t2", attempt: 1, step: "pwd > '\(root)/second.pwd'; echo two > two.txt")
        #expect(await eventually { built(setup, causedBy: second) != nil })
        #expect(built(setup, causedBy: first) == nil)
        // The third waits for the first to be settled (two in hand at most), then builds in its
        // tree, kept, reset and cleaned.
        let third = try build(
            setup, task: "t3", attempt: 1,
            step: "pwd > '\(root)/third.pwd'; test ! -e one.txt && test ! -e cache.out && test ! -e empty "
                + "&& test ! -e two.txt && echo three > three.txt")
        #expect(FileManager.default.createFile(atPath: root + "/commit-t1", contents: Data()))
        #expect(await eventually { built(setup, causedBy: first) != nil && built(setup, causedBy: third) != nil })
        #expect(built(setup, causedBy: first)?.body["diff"]?["paths"] == .array(["one.txt"]))
        #expect(built(setup, causedBy: second)?.body["diff"]?["paths"] == .array(["two.txt"]))
        let body = try #require(built(setup, causedBy: third)).body
        #expect(body["step_exit"] == 0)
        #expect(body["diff"]?["paths"] == .array(["three.txt"]))
        #expect(try await setup.git.run(["rev-parse", "planbus/r1/t3/1^"]) == setup.base)
        // The first and third builds ran in the builder's first tree, the second in its other one.
        let firstTree = lines(of: root + "/first.pwd")
        #expect(firstTree == lines(of: root + "/third.pwd"))
        let tree = try #require(firstTree.first)
        #expect(tree.hasPrefix(setup.bus.bus.layout.run("r1") + "/trees/@builder."))
        #expect(lines(of: root + "/second.pwd") == [tree + "~2"])
        let logs = ["t1", "t2", "t3"].map { lines(of: setup.bus.bus.layout.run("r1") + "/\($0)/1/builder.log") }
        #expect(logs[0].contains { $0.hasSuffix("work tree \(tree): added at the base") })
        #expect(logs[1].contains { $0.hasSuffix("work tree \(tree)~2: added at the base") })
        #expect(
            logs[2].contains {
                $0.hasSuffix("work tree \(tree): kept from this builder's last build, reset to the base and cleaned")
            })
        // The queue empty, the trees go.
        #expect(await eventually { workTreeRecords(of: setup.repository).isEmpty })
        #expect(!FileManager.default.fileExists(atPath: tree))
        #expect(!FileManager.default.fileExists(atPath: tree + "~2"))
        #expect(setup.role.exitStatus == nil)
    }

    @Test("a build taken over removes the ref lock a killed git of the dead holder left on its branch")
    func takeOverRemovesBranchLock() async throws {
        let bus = try TemporaryBus(settings: .testing, roles: ["builder", "verifier"])
        let repository = bus.root + "/repo"
        let git = try await Git.create(at: repository, files: [("README", "hello\n")], message: "start")
        let base = try await git.commit(of: "main")
        // The dead holder's git held the branch's lock; something keeps it looking alive (its
        // time changes), so waiting for it to go stale would never end. `touch -c` never makes it.
        let lock = repository + "/.git/refs/heads/planbus/r1/t9/1.lock"
        try FileManager.default.createDirectory(
            atPath: repository + "/.git/refs/heads/planbus/r1/t9", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: lock, contents: Data()))
        let toucher = try ChildProcess.spawn(
            ["/bin/sh", "-c", "while :; do touch -c '\(lock)'; sleep 0.05; done"], stdout: .null, killsGroupOnExit: true
        )
        defer { toucher.send(SIGKILL) }

        // The build's first holder died: its claim was taken back, so the builder claims it at epoch 2.
        let worker = try WorkerID.current(role: "planner")
        let envelope = Envelope(
            run: "r1", task: "t9", kind: "build", from: worker, to: "builder",
            body: [
                "repository": .string(repository), "base": .string(base), "attempt": 1, "title": "make out.txt",
                "step": "echo done > out.txt",
            ])
        try Publisher(bus: bus.bus, worker: worker).publish(envelope)
        let queue = try RoleQueue(bus: bus.bus, role: "builder", worker: try WorkerID.current(role: "builder"))
        try queue.release(try #require(try queue.claimNext()), reason: "holder died")

        let role = try ChildProcess.spawn(
            [Executables.planbus, "role", "builder", "--bus", bus.path, "--agent", "none", "--stop-grace", "2s"],
            stdout: .file(bus.root + "/builder.out"), stderr: .file(bus.root + "/builder.out"))
        defer { role.send(SIGKILL) }
        #expect(await eventually { bus.pending("verifier", causedBy: envelope.id) != nil })
        let built = try #require(bus.pending("verifier", causedBy: envelope.id))
        #expect(built.body["step_exit"] == 0)
        let commit = try #require(built.body["commit"]?.stringValue)
        #expect(try await git.commit(of: "planbus/r1/t9/1") == commit)
        #expect(!FileManager.default.fileExists(atPath: lock))
    }

    @Test("a failing step is reported as it is, for the verifier to judge; so is a task no one can build offline")
    func failuresAreReported() async throws {
        let setup = try await setUp()
        defer { setup.role.send(SIGKILL) }
        let failing = try build(setup, task: "t2", attempt: 1, step: "echo partial > p.txt; exit 3")
        #expect(await eventually { built(setup, causedBy: failing) != nil })
        let body = try #require(built(setup, causedBy: failing)).body
        #expect(body["step_exit"] == 3)
        #expect(body["step_timed_out"] == false)

        let nothing = try build(setup, task: "t3", attempt: 1, step: "true")
        #expect(await eventually { built(setup, causedBy: nothing) != nil })
        #expect(built(setup, causedBy: nothing)?.body["commit"] == .null)

        // No run step and no agent: an attempt that could not start, reported with why (a dead
        // letter would leave the run waiting for a verdict that never comes).
        let stepless = try build(setup, task: "t4", attempt: 1, step: nil)
        #expect(await eventually { built(setup, causedBy: stepless) != nil })
        let report = try #require(built(setup, causedBy: stepless)).body
        #expect(report["commit"] == .null && report["agent_outcome"] == "setup")
        #expect(report["agent"]?["message"]?.stringValue?.contains("task t4 has no run step") == true)
        #expect(
            try String(contentsOfFile: try #require(report["log"]?.stringValue), encoding: .utf8).contains(
                "the attempt could not start"))
        #expect(setup.role.exitStatus == nil)
    }
}
