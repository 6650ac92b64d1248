import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A bus on a real 4 MiB tmpfs, filled until the kernel says `ENOSPC`: publishing fails cleanly,
/// workers and the supervisor back off and go on once space returns, and no envelope is lost.
// Needs mount rights (root with CAP_SYS_ADMIN); skipped where mounting a tmpfs is refused.
@Suite("Disk full", .serialized, .enabled(if: TestMount.isPermitted, "mounting a tmpfs is not permitted here"))
struct DiskFullTests {
    /// Replaces the bus folder of `temp` with a fresh bus on a 4 MiB tmpfs mounted there.
    func mountBus(_ path: String, settings: BusSettings = .testing, roles: [String]) throws {
        try TestMount.tmpfs(at: path, size: "4m", inodes: 4_096)
        _ = try Bus.create(at: path, settings: settings, roles: roles)
        try FileManager.default.createDirectory(atPath: path + "/ballast", withIntermediateDirectories: false)
    }

    /// Every name in the `new/` folders of `roles`, and in `tmp/`.
    func visible(_ temp: TemporaryBus, roles: [String]) -> [String] {
        var names = roles.flatMap { role in temp.names("new", role).map { "\(role)/\($0)" } }
        names += ((try? FileManager.default.contentsOfDirectory(atPath: temp.bus.layout.tmp)) ?? []).map { "tmp/" + $0 }
        return names.sorted()
    }

    /// The pauses, in ms, a worker's log reports ("backing off <N> ms").
    func pauses(in log: String) -> [Int] {
        lines(of: log).compactMap { line in
            guard let range = line.range(of: "backing off ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    @Test("publishing to a full bus fails with exit 4, says so, and leaves nothing in new/ or tmp/")
    func publishRefused() async throws {
        // The planner's queue too, where a goal goes.
        let temp = try TemporaryBus(roles: ["work", "planner"])
        defer { withExtendedLifetime(temp) { TestMount.unmount(temp.path) } }
        try mountBus(temp.path, roles: ["work", "planner"])
        try temp.publish(2)
        let filler = try TestMount.fill(temp.path + "/ballast")
        let before = visible(temp, roles: ["work", "planner"])
        #expect(before.filter { $0.hasPrefix("work/") }.count == 2)

        let send = try await planbus("send", "--bus", temp.path, "--to", "work", "--kind", "item")
        #expect(send.code == 4, "send: \(send.stderr)")
        #expect(send.stderr.contains("no space left on the bus's filesystem (\(temp.path))"), "\(send.stderr)")
        #expect(send.stderr.contains("free space on it"))
        let repo = temp.root + "/repo"
        for step in [
            ["init", "-q", "-b", "main", repo], ["-C", repo, "commit", "-q", "--allow-empty", "-m", "start"],
        ] {
            let git = try await runCommand(
                ["/usr/bin/git", "-c", "user.name=t", "-c", "user.email=t@example.com"] + step)
            try #require(git.code == 0, "git: \(git.stderr)")
        }
        let goal = try await planbus("submit", "--bus", temp.path, "--goal", "add a greeting", "--repo", repo)
        #expect(goal.code == 4, "submit: \(goal.stderr)")
        #expect(goal.stderr.contains("no space left on the bus's filesystem (\(temp.path))"), "\(goal.stderr)")
        // In-process too: the error says what is wrong.
        let worker = try WorkerID.current(role: "test")
        let envelope = Envelope(run: "r1", kind: "item", from: worker, to: "work", body: [:])
        #expect {
            try Publisher(bus: temp.bus, worker: worker).publish(envelope)
        } throws: { error in
            (error as? BusError)?.busProblem == .full
        }
        #expect(visible(temp, roles: ["work", "planner"]) == before, "nothing half-written became visible")

        TestMount.release(filler)
        let again = try await planbus("send", "--bus", temp.path, "--to", "work", "--kind", "item")
        #expect(again.code == 0, "\(again.stderr)")
        #expect(temp.names("new").count == 3)
    }

    @Test("workers whose claim, ack, journal and heartbeat writes fail with ENOSPC back off and deliver everything")
    func workersBackOff() async throws {
        let temp = try TemporaryBus(roles: ["work", "sink"])
        defer { withExtendedLifetime(temp) { TestMount.unmount(temp.path) } }
        try mountBus(temp.path, roles: ["work", "sink"])
        let gates = temp.root + "/gates"
        try FileManager.default.createDirectory(atPath: gates, withIntermediateDirectories: true)

        // A holds the first envelope at its gate; B takes whatever comes next.
        let a = try WorkerFixture(bus: temp, name: "a", gate: gates, emit: "sink")
        #expect(await a.started())
        let first = try temp.publish(1)
        #expect(await eventually { temp.names("cur").count == 1 })
        let b = try WorkerFixture(bus: temp, name: "b", emit: "sink")
        #expect(await b.started())
        let beats = temp.bus.layout.heartbeats("work")
        #expect(await eventually { ((try? FileManager.default.contentsOfDirectory(atPath: beats)) ?? []).count == 2 })

        // Five more envelopes, written before the disk fills and moved into new/ after (a rename
        // needs no space): what a publisher that won the race for the last blocks left.
        let held = temp.path + "/ballast/held"
        try FileManager.default.createDirectory(atPath: held, withIntermediateDirectories: false)
        let producer = try WorkerID.current(role: "test")
        var later: [String] = []
        for i in 0..<5 {
            let envelope = Envelope(
                run: "run1", kind: "item", from: producer, to: "work", body: ["n": .number(Double(i))])
            try Data(try envelope.encoded()).write(to: URL(fileURLWithPath: held + "/\(envelope.id).json"))
            later.append(envelope.id)
        }
        let filler = try TestMount.fill(temp.path + "/ballast")
        #expect(BusProblem.check(temp.bus.layout) == .full)
        // A's gate opens for every envelope, so whichever worker takes one may finish it.
        for id in first + later { FileManager.default.createFile(atPath: gates + "/" + id, contents: Data()) }
        for id in later {
            #expect(rename(held + "/\(id).json", temp.bus.layout.new("work") + "/\(id).json") == 0)
        }

        // Both report the full disk and keep retrying, with a pause that grows and is capped.
        let aLog = a.out + ".log"
        let bLog = b.out + ".log"
        #expect(await eventually { pauses(in: aLog).count >= 4 && pauses(in: bLog).count >= 1 })
        let aText = lines(of: aLog).joined(separator: "\n")
        #expect(aText.contains("no space left on the bus's filesystem (\(temp.path))"), "\(aText)")
        #expect(lines(of: bLog).contains { $0.contains("no space left on the bus's filesystem") })
        let grown = pauses(in: aLog)
        #expect(grown.max()! > grown.min()!, "the pause grows: \(grown)")
        #expect(grown.allSatisfy { $0 <= 10_000 }, "the pause is capped: \(grown)")
        #expect(a.process.exitStatus == nil && b.process.exitStatus == nil, "neither worker crashed")
        #expect(temp.doneNames().count == 0)

        // Space returns: everything is delivered, once each, by the same two processes.
        TestMount.release(filler)
        let all = first + later
        let delivered = await eventually(timeout: .seconds(90)) {
            let done = Set(temp.doneNames().compactMap { $0.split(separator: ".").first.map(String.init) })
            return done == Set(all) && temp.names("cur").isEmpty && temp.names("new", "sink").count == all.count
        }
        #expect(delivered, "done: \(temp.doneNames()) cur: \(temp.names("cur"))")
        #expect(temp.names("dead").isEmpty && temp.names("retry").isEmpty)
        let results = Set(all.compactMap { temp.pending("sink", causedBy: $0)?.causation })
        #expect(results == Set(all), "one result per envelope published")
        #expect(a.process.exitStatus == nil && b.process.exitStatus == nil)
        // The heartbeats are written again, and no longer say backoff.
        let layout = temp.bus.layout
        #expect(
            await eventually {
                let beats = ((try? FileManager.default.contentsOfDirectory(atPath: layout.heartbeats("work"))) ?? [])
                    .compactMap { Heartbeat.read(path: layout.heartbeats("work") + "/" + $0) }
                return beats.count == 2 && beats.allSatisfy { $0.state == .idle }
            })
        #expect(await a.stop() == .exited(0))
        #expect(await b.stop() == .exited(0))
    }

    @Test(
        "planbus up on a full bus: roles are neither judged hung nor re-spawned, the log says why, work goes on after")
    func supervisorWaits() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("work"))
        let path = session.root + "/bus"
        defer { withExtendedLifetime(session) { TestMount.unmount(path) } }
        try TestMount.tmpfs(at: path, size: "4m", inodes: 4_096)
        let reinit = try await session.planbus("init")
        try #require(reinit.code == 0, "\(reinit.stderr)")
        try FileManager.default.createDirectory(atPath: path + "/ballast", withIntermediateDirectories: false)
        let up = try session.up()
        defer { up.send(SIGKILL) }
        #expect(await eventually(timeout: .seconds(30)) { session.runningPid("work") != nil })
        let pid = try #require(session.runningPid("work"))

        let filler = try TestMount.fill(path + "/ballast")
        let log = session.root + "/up.log"
        #expect(await eventually { lines(of: log).contains { $0.contains("no space left on the bus's filesystem") } })
        let linesBefore = lines(of: log).count
        // A window of many lease lengths (1 s): the role would have been judged hung in the first.
        let cpuBefore = try #require(processCPUTicks(up.pid))
        let window = ContinuousClock.now
        let disturbed = await eventually(timeout: .seconds(15)) {
            !isLive(pid)
                || lines(of: log).dropFirst(linesBefore).contains { $0.contains(": hung") || $0.contains("started") }
        }
        let elapsed = ContinuousClock.now - window
        #expect(!disturbed, "\(lines(of: log).dropFirst(linesBefore))")
        let cpu = try #require(processCPUTicks(up.pid)) - cpuBefore
        let windowTicks = Double(elapsed.components.seconds) * Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(Double(cpu) < windowTicks * 0.25, "supervisor CPU \(cpu) ticks in \(elapsed)")

        TestMount.release(filler)
        #expect(await eventually { lines(of: log).contains { $0.contains("the bus takes writes again") } })
        let id = try session.send(to: "work")
        #expect(await eventually { session.isDone(id, role: "work") })
        #expect(session.runningPid("work") == pid, "the same process goes on")
        up.send(SIGTERM)
        #expect(await up.wait(timeout: testProcessTimeout).exit == .exited(0))
    }
}
