import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("The planbus command", .timeLimit(.minutes(3)))
struct CLITests {
    private func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.path + "/planbus-cli-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(
        "every command answers --help",
        arguments: [
            "", "init", "submit", "status", "tail", "merge", "send", "log", "show", "janitor", "demo", "demo run",
            "demo bus", "bench",
            "bench bus",
            "bench session", "up", "down",
            "ps", "restart",
            "kill", "role", "doctor", "usage", "watch", "questions", "answer", "approve", "reject",
        ])
    func help(command: String) async throws {
        let words = command.split(separator: " ").map(String.init)
        let result = try await runCommand([Executables.planbus] + words + ["--help"])
        #expect(result.code == 0)
        #expect(result.stdout.contains("USAGE"))
    }

    @Test("init creates a bus, is idempotent, and refuses foreign directories and other versions")
    func initCommand() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/planbus.yaml"
        let first = try await planbus("init", dir + "/bus", "--config", config, "--json")
        #expect(first.code == 0)
        #expect(try JSONValue.parse(first.stdout)["created"] == .bool(true))
        #expect(try JSONValue.parse(first.stdout)["config_created"] == .bool(true))
        #expect(FileManager.default.fileExists(atPath: dir + "/bus/q/builder/new"))
        // The configuration names the bus relative to its own folder.
        #expect(lines(of: config).contains { $0.hasPrefix("bus: bus ") })
        let again = try await planbus("init", dir + "/bus", "--config", config, "--json")
        #expect(try JSONValue.parse(again.stdout)["created"] == .bool(false))
        #expect(try JSONValue.parse(again.stdout)["config_created"] == .bool(false))

        try FileManager.default.createDirectory(atPath: dir + "/other", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/other/precious.txt", contents: Data("keep".utf8))
        let foreign = try await planbus("init", dir + "/other", "--no-config")
        #expect(foreign.code == 3)
        #expect(foreign.stderr.contains("refusing"))
        #expect(try String(contentsOfFile: dir + "/other/precious.txt", encoding: .utf8) == "keep")

        try "planbus-bus 2\n".write(toFile: dir + "/bus/VERSION", atomically: true, encoding: .utf8)
        let newer = try await planbus("init", dir + "/bus", "--no-config")
        #expect(newer.code == 3)
        #expect(newer.stderr.contains("planbus-bus 2"))
    }

    @Test("send validates before writing; log, show and --follow tell the story")
    func sendLogShow() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = dir + "/bus"
        #expect(try await planbus("init", bus, "--no-config").code == 0)

        let bad = try await planbus("send", "--bus", bus, "--to", "builder", "--kind", "note", "--body", "{\"a\":")
        #expect(bad.code == 3)
        let badRole = try await planbus("send", "--bus", bus, "--to", "../x", "--kind", "note")
        #expect(badRole.code == 3)
        let badRun = try await planbus("send", "--bus", bus, "--to", "builder", "--kind", "note", "--run", "../../etc")
        #expect(badRun.code == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: bus + "/q/builder/new").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: bus + "/tmp").isEmpty)

        let follower = try ChildProcess.spawn(
            [Executables.planbus, "log", "--bus", bus, "--follow", "--json", "--interval-ms", "50"],
            stdout: .file(dir + "/follow.out"), stderr: .null)
        defer { follower.send(SIGKILL) }

        let sent = try await planbus(
            "send", "--bus", bus, "--to", "builder", "--kind", "note", "--run", "r1", "--task", "t1",
            "--body", "{\"summary\":\"hello world\"}", "--json")
        #expect(sent.code == 0)
        let id = try #require(try JSONValue.parse(sent.stdout)["id"]?.stringValue)
        try "{\"summary\":\"from a file\"}".write(toFile: dir + "/body.json", atomically: true, encoding: .utf8)
        let other = try await planbus(
            "send", "--bus", bus, "--to", "verifier", "--kind", "note", "--run", "r2", "--body",
            "@" + dir + "/body.json")
        #expect(other.code == 0)
        #expect(try await planbus("log", "--bus", bus, "--run", "r2").stdout.contains("from a file"))
        let missing = try await planbus(
            "send", "--bus", bus, "--to", "verifier", "--kind", "note", "--body", "@/nonexistent")
        #expect(missing.code == 4)
        let notObject = try await planbus("send", "--bus", bus, "--to", "verifier", "--kind", "note", "--body", "[1]")
        #expect(notObject.code == 3)

        let log1 = try await planbus("log", "--bus", bus, "--run", "r1")
        #expect(log1.code == 0)
        #expect(log1.stdout.contains("cli@"))
        #expect(log1.stdout.contains("→ builder  note [t1]  waiting  hello world"))
        #expect(!log1.stdout.contains("verifier"), "another run's envelope leaked into --run r1")

        // A consumer takes and acks it.
        let opened = try Bus.open(at: bus)
        let queue = try RoleQueue(bus: opened, role: "builder", worker: try WorkerID.current(role: "builder"))
        let claim = try #require(try queue.claimNext())
        try queue.ack(claim)

        // Re-sending the id is refused by send; a copy dropped by hand is dead-lettered as a duplicate,
        // and the first envelope's story stays "done".
        let resend = try await planbus(
            "send", "--bus", bus, "--to", "builder", "--kind", "note", "--run", "r1", "--id", id)
        #expect(resend.code == 3)
        #expect(resend.stderr.contains("duplicate id"))
        let copy = Envelope(
            id: id, run: "r1", kind: "note", from: try WorkerID.current(role: "test"), to: "builder",
            body: ["summary": "again"])
        try Publisher(bus: opened, worker: copy.from).publish(copy)
        #expect(try queue.claimNext() == nil)
        let entries = try await planbus("log", "--bus", bus, "--run", "r1", "--json").stdout.split(separator: "\n")
            .map { try JSONValue.parse(String($0)) }
        #expect(
            entries.filter { $0["id"]?.stringValue == id }.compactMap { $0["state"]?.stringValue }.sorted() == [
                "dead", "done",
            ])

        let log2 = try await planbus("log", "--bus", bus, "--run", "r1", "--json")
        let entry = try #require(
            try log2.stdout.split(separator: "\n").map { try JSONValue.parse(String($0)) }.first {
                $0["state"] == "done"
            })
        #expect(entry["state"] == "done")
        #expect(entry["epoch"] == 1)
        #expect(entry["to"] == "builder")
        #expect(entry["id"]?.stringValue == id)

        let byRole = try await planbus("log", "--bus", bus, "--role", "verifier")
        #expect(byRole.stdout.contains("→ verifier"))
        #expect(!byRole.stdout.contains("→ builder"))

        let show = try await planbus("show", "--bus", bus, id)
        #expect(show.code == 0)
        #expect(show.stdout.contains("in builder: done"))
        #expect(show.stdout.contains("in builder: dead"))
        #expect(show.stdout.contains("publish"))
        #expect(show.stdout.contains("claim e1"))
        #expect(show.stdout.contains("ack e1"))
        let showCopies = try JSONValue.parse(try await planbus("show", "--bus", bus, id, "--json").stdout)
        #expect(showCopies.arrayValue?.count == 2)
        let showJSON = try #require(showCopies.arrayValue?.first { $0["state"] == "done" })
        #expect(showJSON["envelope"]?["body"]?["summary"] == "hello world")
        #expect(showJSON["history"]?.arrayValue?.count == 3)

        #expect(try await planbus("show", "--bus", bus, "1795317413629-000001-nope-1").code == 4)
        #expect(try await planbus("show", "--bus", bus, "../../etc/passwd").code == 3)
        #expect(try await planbus("log", "--bus", bus, "--run", "nope").code == 4)
        #expect(try await planbus("log", "--bus", bus, "--run", "../..").code == 3)

        // --follow printed the envelope waiting, then done.
        #expect(
            await eventually {
                let states = lines(of: dir + "/follow.out").compactMap { try? JSONValue.parse($0) }
                    .filter { $0["id"]?.stringValue == id }.compactMap { $0["state"]?.stringValue }
                guard let waiting = states.firstIndex(of: "waiting"), let done = states.firstIndex(of: "done") else {
                    return false
                }
                return waiting < done
            }, "--follow printed the envelope waiting, then done")
    }

    @Test("the demo kills a worker mid-work and still finishes every job exactly once")
    func demo() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try await planbus(
            "demo", "bus", "--bus", dir + "/bus", "--jobs", "6", "--work-ms", "200", "--json")
        #expect(result.code == 0, "\(result.stderr)")
        let outcome = try JSONValue.parse(result.stdout)
        #expect(outcome["exactly_once"] == true)
        #expect(outcome["collected"] == 6)
        #expect((outcome["takeovers"]?.intValue ?? 0) >= 1)
        #expect(outcome["killed_pid"] != .null)
    }
}

@Suite("planbus janitor and bench", .timeLimit(.minutes(2)))
struct JanitorCLITests {
    @Test("the janitor releases a dead holder's claim and removes its staging files")
    func janitor() async throws {
        let bus = try TemporaryBus(settings: BusSettings(), roles: ["work"])
        let id = try #require(try bus.publish(1).first)
        // A holder that died: a real process, gone by the time the janitor looks.
        let ghost = try await ghostPID()
        let holder = try WorkerID(role: "work", host: Host.name, pid: ghost, incarnation: "00000000000000aa")
        let layout = bus.bus.layout
        try FileManager.default.moveItem(
            atPath: layout.new("work") + "/" + id + ".json",
            toPath: layout.cur("work") + "/" + QueueNames.claim(id: id, epoch: 1, worker: holder))
        _ = FileManager.default.createFile(
            atPath: layout.tmp + "/.\(Host.name).\(ghost).abcdef.pub", contents: Data("x".utf8))

        let result = try await planbus("janitor", "--bus", bus.path, "--json")
        #expect(result.code == 0, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        #expect(report["expired"] == 1)
        #expect(report["stale_tmp"] == 1)
        #expect(bus.names("new") == [id + ".e1.json"])
        #expect(bus.names("cur").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.tmp).isEmpty)
    }

    @Test("bench without a benchmark name is a usage error")
    func benchNeedsName() async throws {
        #expect(try await planbus("bench").code == 64)
    }

    /// A pid that no process has: a child's, after it was reaped.
    private func ghostPID() async throws -> Int32 {
        let child = try ChildProcess.spawn(["/bin/true"], stdout: .null, stderr: .null)
        _ = await child.wait(timeout: testProcessTimeout).exit
        return child.pid
    }
}
