import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A plan dropped into the backlog folder of `planbus.yaml`, run end to end by real role
/// processes under `planbus up`, on a real git repository.
@Suite("Backlog runs", .serialized)
struct BacklogRunTests {
    @Test("a plan dropped into the backlog runs to the end; an invalid one is refused; planbus status shows the run")
    func droppedPlanRuns() async throws {
        let (session, git) = try await runSession(settings: "backlog: inbox")
        let inbox = session.root + "/inbox"

        let up = try session.up()
        defer { up.send(SIGTERM) }
        // The planner makes the folder when it starts.
        #expect(await eventually { FileManager.default.fileExists(atPath: inbox + "/submitted") })

        // Written elsewhere and moved in, as a file should be dropped; `repository: ../repo` is
        // relative to the backlog folder.
        let plan = """
            version: 1
            name: dropped
            goal: write a.txt from the backlog
            risk: low
            repository: ../repo
            tasks:
              - id: write
                title: write a.txt
                prompt: write a.txt
                scope: [a.txt]
                run: echo a > a.txt
                gates:
                  - name: exists
                    command: [test, -f, a.txt]
            """
        try plan.write(toFile: session.root + "/drop.yaml", atomically: true, encoding: .utf8)
        try "version: 1\nname: broken\n".write(toFile: session.root + "/broken.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.moveItem(atPath: session.root + "/drop.yaml", toPath: inbox + "/drop.yaml")
        try FileManager.default.moveItem(atPath: session.root + "/broken.yaml", toPath: inbox + "/broken.yaml")

        let submitted = inbox + "/submitted"
        #expect(
            await eventually { ((try? FileManager.default.contentsOfDirectory(atPath: submitted)) ?? []).count == 1 })
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: submitted).first)
        let run = try #require(name.hasSuffix(".drop.yaml") ? String(name.dropLast(".drop.yaml".count)) : nil)
        let status = session.bus.layout.run(run) + "/status.json"
        #expect(
            await eventually(timeout: .seconds(120)) {
                guard let data = FileManager.default.contents(atPath: status),
                    let json = try? JSONValue.parse(Array(data))
                else { return false }
                return json["finished"] == .bool(true)
            })
        let json = try JSONValue.parse(String(contentsOfFile: status, encoding: .utf8))
        let tasks = json["tasks"]?.arrayValue ?? []
        #expect(tasks.count == 1)
        #expect(tasks.first?["state"] == "integrated")
        #expect(try await git.run(["show", "\(RunMessages.integrationBranch(run)):a.txt"]) == "a")

        // One goal, sent by the planner, in the run's journal.
        let goals = JournalReader(layout: session.bus.layout).events(run: run).filter {
            $0.kind == RunMessages.goal && $0.event == .publish
        }
        #expect(goals.count == 1)
        #expect(goals.first?.worker.hasPrefix("planner.") == true)

        #expect(FileManager.default.fileExists(atPath: inbox + "/refused/broken.yaml"))
        let error = try String(contentsOfFile: inbox + "/refused/broken.yaml.error", encoding: .utf8)
        #expect(error.hasPrefix(inbox + "/broken.yaml:"), "\(error)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: inbox + "/.taking")) ?? []).isEmpty)

        let shown = try await session.planbus("status", run)
        #expect(shown.code == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("integrated"), "\(shown.stdout)")

        up.send(SIGTERM)
        #expect(await up.wait(timeout: .seconds(30)) == .ended(.exited(0)))
    }
}

@Suite("Backlog option")
struct BacklogOptionTests {
    @Test("--backlog is for the planner only; a backlog that cannot be made stops the planner with the reason")
    func refused() async throws {
        let bus = try TemporaryBus(settings: .testing, roles: ["planner", "builder"])
        let common = ["--bus", bus.path, "--agent", "none", "--envelope-timeout", "1m", "--stop-grace", "1s"]
        let builder = try await runCommand(
            [Executables.planbus, "role", "builder", "--backlog", bus.root + "/inbox"] + common)
        #expect(builder.code == 64)
        #expect(builder.stderr.contains("--backlog is for the planner only, not builder"), "\(builder.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bus.root + "/inbox"))

        try "not a folder".write(toFile: bus.root + "/file", atomically: true, encoding: .utf8)
        let planner = try await runCommand(
            [Executables.planbus, "role", "planner", "--backlog", bus.root + "/file/inbox"] + common)
        #expect(planner.code == 1)
        #expect(planner.stderr.contains("backlog \(bus.root)/file/inbox: cannot create directory"), "\(planner.stderr)")

        // A symbolic link to a folder is a backlog like the folder.
        try FileManager.default.createDirectory(atPath: bus.root + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: bus.root + "/linked", withDestinationPath: bus.root + "/real")
        let linked = BacklogFolder(path: bus.root + "/linked")
        try linked.prepare()
        #expect(FileManager.default.fileExists(atPath: bus.root + "/real/submitted"))
    }
}
