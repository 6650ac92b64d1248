import Bus
import BusTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// The backlog service on a real folder and a real bus, with a real git repository for the plans.
@Suite("Backlog", .serialized)
struct BacklogTests {
    /// A bus with a planner queue, a git repository at `root/repo` and a backlog at `root/backlog`.
    struct Setup {
        let bus: TemporaryBus
        var backlog: BacklogFolder { BacklogFolder(path: bus.root + "/backlog") }

        init() async throws {
            bus = try TemporaryBus(settings: .testing, roles: ["planner"])
            let result = try await runCommand(["git", "init", "-q", bus.root + "/repo"])
            #expect(result.code == 0, "\(result.stderr)")
        }

        /// A plan whose `repository:` is relative to the backlog folder.
        func plan(_ name: String) -> String {
            """
            version: 1
            name: \(name)
            goal: write a file
            risk: low
            repository: ../repo
            tasks:
              - id: one
                title: write one.txt
                prompt: write one.txt
                scope: [one.txt]
                run: echo one > one.txt
            """
        }

        func write(_ text: String, _ path: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }

        /// The goal envelopes waiting in the planner's queue.
        var goals: [Envelope] {
            let folder = bus.bus.layout.new("planner")
            return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { name in
                FileManager.default.contents(atPath: folder + "/" + name).flatMap { try? Envelope(decoding: Array($0)) }
            }.filter { $0.kind == RunMessages.goal }
        }

        func names(_ folder: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        }

        /// Runs a backlog service in a service group while `body` runs, then shuts the group down
        /// gracefully and waits for the service to return.
        func serving(settle: Duration = .milliseconds(200), _ body: () async throws -> Void) async throws {
            let logger = Logger(label: "backlog-test")
            let service = try BacklogService(
                folder: backlog, bus: bus.bus, worker: WorkerID.current(role: "planner"), logger: logger,
                settle: settle)
            let group = ServiceGroup(services: [service], logger: logger)
            let running = Task { try await group.run() }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                _ = try? await running.value
                throw error
            }
            await group.triggerGracefulShutdown()
            try await running.value
        }
    }

    @Test("each plan file is submitted once and moved aside; an invalid one is refused with its error beside it")
    func submitsAndRefuses() async throws {
        let setup = try await Setup()
        try setup.backlog.prepare()
        let dir = setup.backlog.path
        let good = setup.plan("good")
        try setup.write(good, dir + "/good.yaml")
        try setup.write(setup.plan("bad") + "\nextra: 1\n", dir + "/bad.yml")
        let badLine = setup.plan("bad").split(separator: "\n").count + 1
        // Not plans to take: a partial file, a dotfile, another extension, a link, a subfolder.
        try setup.write(setup.plan("later"), dir + "/later.yaml.tmp")
        try setup.write(setup.plan("hidden"), dir + "/.hidden.yaml")
        try setup.write("notes", dir + "/notes.txt")
        try FileManager.default.createSymbolicLink(
            atPath: dir + "/link.yaml", withDestinationPath: dir + "/later.yaml.tmp")
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try setup.write(setup.plan("nested"), dir + "/sub/nested.yaml")

        try await setup.serving {
            #expect(
                await eventually {
                    setup.names(setup.backlog.submitted).count == 1 && setup.names(setup.backlog.refused).count == 2
                })
            let goals = setup.goals
            #expect(goals.count == 1)
            let goal = try #require(goals.first)
            #expect(setup.names(setup.backlog.submitted) == ["\(goal.run).good.yaml"])
            #expect(goal.run.hasPrefix("good-"))
            #expect(goal.to == "planner")
            #expect(goal.body["plan_text"]?.stringValue == good)
            // The plan is read where it was dropped: its relative repository is the backlog's ../repo.
            #expect(goal.body["plan_file"]?.stringValue == dir + "/good.yaml")
            let plan = try PlanLoader.parse(
                try #require(goal.body["plan_text"]?.stringValue),
                file: try #require(goal.body["plan_file"]?.stringValue))
            #expect(plan.repository == setup.bus.root + "/repo")
            #expect(
                try String(contentsOfFile: setup.backlog.submitted + "/\(goal.run).good.yaml", encoding: .utf8) == good)

            #expect(setup.names(setup.backlog.refused) == ["bad.yml", "bad.yml.error"])
            let error = try String(contentsOfFile: setup.backlog.refused + "/bad.yml.error", encoding: .utf8)
            #expect(error.hasPrefix(dir + "/bad.yml:\(badLine):1: extra:"), "\(error)")
            #expect(error.contains("unknown key"), "\(error)")
            #expect(setup.names(setup.backlog.taking).isEmpty)
            #expect(
                setup.names(dir) == [
                    ".hidden.yaml", ".taking", "later.yaml.tmp", "link.yaml", "notes.txt", "refused", "sub",
                    "submitted",
                ])
            #expect(setup.names(dir + "/sub") == ["nested.yaml"])

            // The documented way to drop a file: write it under another name, then rename it.
            try FileManager.default.moveItem(atPath: dir + "/later.yaml.tmp", toPath: dir + "/later.yaml")
            #expect(await eventually { setup.goals.count == 2 })
            #expect(await eventually { setup.names(setup.backlog.submitted).count == 2 })
            #expect(Set(setup.goals.map(\.run)).count == 2)
        }
        // Stopped: a file dropped now stays where it is.
        try setup.write(setup.plan("after"), dir + "/after.yaml")
        #expect(setup.goals.count == 2)
        #expect(FileManager.default.fileExists(atPath: dir + "/after.yaml"))
    }

    @Test("a file being written is taken only once it has stopped changing")
    func waitsForQuiet() async throws {
        let setup = try await Setup()
        try setup.backlog.prepare()
        let path = setup.backlog.path + "/growing.yaml"
        let text = setup.plan("growing")
        let half = text.prefix(text.count / 2)
        try setup.write(String(half), path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try await setup.serving(settle: .seconds(2)) {
            // While the writer keeps writing within the settle time, the file stays.
            var lastWrite = ContinuousClock.now
            try handle.seekToEnd()
            for chunk in text.dropFirst(half.count).split(separator: "\n", omittingEmptySubsequences: false).map({
                $0 + "\n"
            }) {
                #expect(FileManager.default.fileExists(atPath: path) || ContinuousClock.now - lastWrite >= .seconds(2))
                try handle.write(contentsOf: Data(chunk.utf8))
                lastWrite = ContinuousClock.now
                // A slow writer: the next line comes a little later.
                try await Task.sleep(for: .milliseconds(100))
            }
            try handle.close()
            #expect(await eventually { setup.goals.count == 1 })
            #expect(setup.goals.first?.body["plan_text"]?.stringValue == text + "\n")
            #expect(setup.names(setup.backlog.refused).isEmpty)
        }
    }

    @Test("files left in .taking by a crash are finished with the same ids: still one goal per file")
    func recoversAfterCrash() async throws {
        let setup = try await Setup()
        try setup.backlog.prepare()
        let taking = setup.backlog.taking
        // A crash after the take, before the goal was sent.
        let taken = Timestamp(milliseconds: Timestamp.now().milliseconds - 60_000)
        let ticket = BacklogTicket(name: "crashed.yaml", takenAt: taken)
        try setup.write(setup.plan("crashed"), taking + "/" + ticket.fileName)
        try await setup.serving {
            #expect(await eventually { setup.names(setup.backlog.submitted).count == 1 })
        }
        let goal = try #require(setup.goals.first)
        #expect(setup.goals.count == 1)
        let run = ticket.run(content: Array(setup.plan("crashed").utf8))
        #expect(goal.run == run)
        #expect(goal.id == ticket.goalID(run: run))
        #expect(goal.id.hasPrefix(BacklogTicket.milliseconds(taken) + "-goal-crashed-"))
        #expect(setup.names(taking).isEmpty)

        // A crash after the goal was sent, before the file was moved: the goal is not sent again.
        try FileManager.default.moveItem(
            atPath: setup.backlog.submitted + "/\(run).crashed.yaml", toPath: taking + "/" + ticket.fileName)
        try await setup.serving {
            #expect(await eventually { setup.names(setup.backlog.submitted) == ["\(run).crashed.yaml"] })
        }
        #expect(setup.goals.map(\.id) == [goal.id])
        #expect(setup.names(taking).isEmpty)
        // Its one publish is in the journal.
        let publishes = JournalReader(layout: setup.bus.bus.layout).events(run: run).filter {
            $0.id == goal.id && $0.event == .publish
        }
        #expect(publishes.count == 1)
    }

    @Test("two services on one folder take each file once")
    func competingServices() async throws {
        let setup = try await Setup()
        try setup.backlog.prepare()
        for index in 0..<12 { try setup.write(setup.plan("p\(index)"), setup.backlog.path + "/p\(index).yaml") }
        try await setup.serving(settle: .zero) {
            try await setup.serving(settle: .zero) {
                #expect(await eventually { setup.names(setup.backlog.submitted).count == 12 })
            }
        }
        #expect(setup.goals.count == 12)
        #expect(Set(setup.goals.map(\.run)).count == 12)
        #expect(setup.names(setup.backlog.taking).isEmpty)
    }

    @Test("run and goal ids are valid for any file name")
    func ids() {
        let taken = Timestamp(milliseconds: 1_700_000_000_123)
        for name in [
            "plan.yaml", "-- odd name!.yml", "über.yaml", String(repeating: "x", count: 200) + ".yaml", "a.b.yaml",
        ] {
            let ticket = BacklogTicket(name: name, takenAt: taken)
            let run = ticket.run(content: Array("content".utf8))
            #expect((try? Limits.checkName(run, field: "run")) != nil, "\(run)")
            #expect(Limits.isValidEnvelopeID(ticket.goalID(run: run)), "\(ticket.goalID(run: run))")
            #expect(BacklogTicket(fileName: ticket.fileName) == ticket)
            #expect(ticket.run(content: Array("other".utf8)) != run)
        }
        #expect(BacklogTicket(fileName: "12345-plan.yaml") == nil)
        #expect(BacklogTicket(fileName: "1700000000123-notes.txt") == nil)
    }

    @Test("SHA-256 matches the FIPS 180-4 examples")
    func sha256() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
