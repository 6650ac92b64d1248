import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `planbus watch`: snapshots of the roles, a run's tasks and the human queue, from a real bus.
@Suite("Watch", .serialized, .timeLimit(.minutes(3)))
struct WatchTests {
    /// A status file as the planner writes it, with every field.
    static let status = """
        {"run":"r1","plan":"shop","risk":"medium","stage":"build","finished":false,"halted":null,
         "waiting":"approval of t2","tasks":[
          {"id":"t1","title":"write a.txt","state":"integrated","attempts":1,"commit":"1111111111111111aaaa"},
          {"id":"t2","title":"write b.txt","state":"awaiting_approval","attempt":2,"candidate":1,
           "commit":"2222222222222222bbbb"},
          {"id":"t3","title":"write c.txt","state":"asking","attempt":1,"question":"Which encoding?"},
          {"id":"t4","title":"write d.txt","state":"failed","attempts":3,"reason":"gate test failed\\nmore"},
          {"id":"t5","title":"write e.txt","state":"blocked","by":"t4"},
          {"id":"t6","title":"write f.txt","state":"waiting"}]}
        """

    /// Writes `text` as `runs/<run>/status.json`.
    func writeStatus(_ text: String, run: String = "r1", bus: Bus) throws {
        try FileManager.default.createDirectory(atPath: bus.layout.run(run), withIntermediateDirectories: true)
        try text.write(toFile: bus.layout.run(run) + "/status.json", atomically: true, encoding: .utf8)
    }

    /// Publishes an approval request for `task` to the human queue, as the planner does.
    @discardableResult
    func askApproval(_ bus: Bus, task: String) throws -> Envelope {
        let worker = try WorkerID.current(role: "planner")
        let envelope = Envelope(
            run: "r1", task: task, kind: HumanRequest.approval, from: worker, to: HumanRequest.role, attempt: 2,
            body: ["candidate": 1, "commit": "2222222222222222bbbb", "title": "write b.txt", "reply_to": "planner"])
        try Publisher(bus: bus, worker: worker).publish(envelope)
        return envelope
    }

    @Test("a snapshot shows the run's stage, each task's state and detail, and what waits for a person")
    func snapshotText() throws {
        let temporary = try TemporaryBus(roles: ["planner"])
        try writeStatus(Self.status, bus: temporary.bus)
        let approval = try askApproval(temporary.bus, task: "t2")
        let snapshot = RunWatchSnapshot.take(bus: temporary.bus)
        #expect(snapshot.run == "r1")
        let text = RunWatch.text(snapshot)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("ROLES: none running (planbus up starts them)"))
        #expect(
            lines.contains("RUN r1 · plan shop · risk medium · stage build · WAITING: approval of t2"))
        func row(_ task: String) -> String { lines.first { $0.hasPrefix(task + " ") } ?? "" }
        #expect(row("t1").contains("integrated") && row("t1").contains("commit 111111111111"))
        #expect(row("t2").contains("awaiting_approval") && row("t2").contains("planbus approve r1 t2"))
        #expect(row("t3").contains("asking") && row("t3").contains("Which encoding?"))
        #expect(row("t4").contains("failed") && row("t4").contains("gate test failed") && !text.contains("more"))
        #expect(row("t5").contains("blocked by t4"))
        #expect(row("t6").contains("waiting"))
        #expect(lines.contains("PEOPLE: 1 request waits (planbus questions)"))
        #expect(lines.contains { $0.contains(approval.id) && $0.contains("approve? write b.txt") })
        #expect(!text.contains("\u{1B}"))

        let frame = RunWatch.frame(snapshot, interval: .milliseconds(250))
        #expect(frame.hasPrefix(RunWatch.clear + "planbus watch"))
        #expect(frame.hasSuffix("every 250 ms · Ctrl-C quits · planbus watch --once for one snapshot"))
    }

    @Test("an older status file with only the first fields still shows its tasks; a newer run is shown by default")
    func olderStatus() async throws {
        let temporary = try TemporaryBus(roles: ["planner"])
        try writeStatus(Self.status, bus: temporary.bus)
        // Written after r1's, so it is the run shown without RUN.
        let older = """
            {"run":"r2","plan":"old","finished":true,"halted":null,
             "tasks":[{"id":"a","title":"first","state":"building","attempt":1}]}
            """
        let later = Date().addingTimeInterval(5)
        try writeStatus(older, run: "r2", bus: temporary.bus)
        try FileManager.default.setAttributes(
            [.modificationDate: later], ofItemAtPath: temporary.bus.layout.run("r2") + "/status.json")
        let text = RunWatch.text(RunWatchSnapshot.take(bus: temporary.bus))
        #expect(text.contains("RUN r2 · plan old · finished"))
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("a ") && $0.contains("building") })
        #expect(!text.contains("t1 "))
        #expect(RunWatch.text(RunWatchSnapshot.take(bus: temporary.bus, run: "r1")).contains("RUN r1 · plan shop"))

        let result = try await planbus("watch", "r1", "--once", "--bus", temporary.path)
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdout.contains("RUN r1 · plan shop"))
        #expect(try await planbus("watch", "r7", "--once", "--bus", temporary.path).code == 4)
        #expect(try await planbus("watch", "--interval", "5", "--bus", temporary.path).code == 64)
        #expect(try await planbus("watch", "--interval", "10ms", "--bus", temporary.path).code == 64)
    }

    @Test("watch --once and --json on a live session: the running roles with their pids, and the tasks")
    func liveSession() async throws {
        let session = try await SessionFixture(
            roles: SessionFixture.testingRole("planner") + "\n" + SessionFixture.testingRole("builder", instances: 2))
        let up = try session.up()
        defer { up.send(SIGKILL) }
        #expect(
            await eventually {
                session.runningPid("planner") != nil && session.runningPid("builder") != nil
                    && session.runningPid("builder", instance: 1) != nil
            })
        try writeStatus(Self.status, bus: session.bus)
        try askApproval(session.bus, task: "t2")
        let planner = try #require(session.runningPid("planner"))
        let builders = [session.runningPid("builder"), session.runningPid("builder", instance: 1)].compactMap { $0 }

        // Not a terminal: one snapshot, even without --once.
        let result = try await session.planbus("watch")
        #expect(result.code == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("planner ") && $0.contains(" \(planner) ") })
        for pid in builders {
            #expect(lines.contains { $0.hasPrefix("builder ") && $0.contains(" \(pid) ") })
        }
        #expect(lines.contains { $0.hasPrefix("t2 ") && $0.contains("awaiting_approval") })
        #expect(lines.contains("PEOPLE: 1 request waits (planbus questions)"))

        let json = try JSONValue.parse(try await session.planbus("watch", "--json").stdout)
        #expect(json["run"] == "r1")
        #expect(json["status"]?["tasks"]?.arrayValue?.count == 6)
        let workers = json["workers"]?.arrayValue ?? []
        let listed: Set<Int> = Set(workers.compactMap { $0["pid"]?.intValue })
        let expected: [Int] = ([planner] + builders).map { Int($0) }
        #expect(listed.isSuperset(of: expected))
        #expect(json["requests"]?.arrayValue?.count == 1)

        up.send(SIGTERM)
        _ = await up.wait(timeout: testProcessTimeout).exit
    }

    @Test("on a terminal it redraws in place every interval until Ctrl-C, then exits 0")
    func terminal() async throws {
        let temporary = try TemporaryBus(roles: ["planner"])
        try writeStatus(Self.status, bus: temporary.bus)
        let out = temporary.root + "/tty.out"
        // script(1) gives the command a pseudo-terminal and copies what it writes to stdout. It runs
        // the command with `$SHELL -c` (or /bin/sh): `exec` makes watch the shell's own process,
        // whatever the shell, so the SIGINT below reaches it and not a shell waiting for it.
        let command = "exec \(Executables.planbus) watch --bus \(temporary.path) --interval 100ms"
        let script = try ChildProcess.spawn(
            ["script", "-q", "-e", "-c", command, "/dev/null"], stdout: .file(out), stderr: .file(out))
        defer { script.send(SIGKILL) }
        func frames() -> Int {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            return text.components(separatedBy: RunWatch.clear).count - 1
        }
        #expect(await eventually { frames() >= 3 })
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(text.contains("RUN r1 · plan shop"))
        #expect(text.contains("every 100 ms · Ctrl-C quits"))

        // Ctrl-C: SIGINT to the watch process, the child of script.
        let watch = try #require(childPids(of: script.pid).first)
        kill(watch, SIGINT)
        let exit = await script.wait(timeout: testProcessTimeout).exit
        #expect(exit == .exited(0))
    }

    /// The pids of `pid`'s children, from /proc.
    func childPids(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0) }
        }
    }
}
