import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Take-over and fencing with real processes", .serialized, .timeLimit(.minutes(3)))
struct TakeoverTests {
    private func claimHolder(_ bus: TemporaryBus) -> (name: String, epoch: Int, worker: WorkerID)? {
        bus.names("cur").compactMap(QueueNames.parseClaim).first.map {
            (name: $0.id, epoch: $0.epoch, worker: $0.worker)
        }
    }

    private func journal(_ bus: TemporaryBus, run: String = "run1") -> [JournalEvent] {
        JournalReader(layout: bus.bus.layout).events(run: run)
    }

    @Test("a SIGKILLed holder's claim is taken over at epoch 2 and finished")
    func takeoverAfterKill() async throws {
        let bus = try TemporaryBus()
        let gate = bus.root + "/gate"
        try FileManager.default.createDirectory(atPath: gate, withIntermediateDirectories: true)
        let a = try WorkerFixture(bus: bus, name: "a", gate: gate)
        #expect(await a.started())
        let id = try #require(try bus.publish(1).first)
        #expect(await eventually { claimHolder(bus)?.worker.pid == a.process.pid })

        a.process.send(SIGKILL)
        _ = await a.process.wait(timeout: testProcessTimeout).exit
        let b = try WorkerFixture(bus: bus, name: "b")
        #expect(await eventually { bus.doneNames() == [id + ".e2.json"] })
        #expect(await b.stop() == .exited(0))

        #expect(b.processed.map(\.id) == [id])
        #expect(b.processed.map(\.epoch) == [2])
        #expect(a.processed.isEmpty)
        let events = journal(bus).filter { $0.id == id }
        let expire = try #require(events.first { $0.event == .expire })
        #expect(expire.previous?.contains(".\(a.process.pid).") == true)
        #expect(expire.reason?.contains("gone") == true, "same-host fast path expected: \(expire.reason ?? "")")
        #expect(events.contains { $0.event == .claim && $0.epoch == 2 && $0.worker.contains(".\(b.process.pid).") })
        #expect(events.contains { $0.event == .ack && $0.epoch == 2 })
    }

    @Test("a SIGSTOPped holder is taken over after its lease; when it resumes, its ack and results are refused")
    func zombieIsFenced() async throws {
        let bus = try TemporaryBus(roles: ["work", "sink"])
        let gate = bus.root + "/gate"
        try FileManager.default.createDirectory(atPath: gate, withIntermediateDirectories: true)
        let a = try WorkerFixture(bus: bus, name: "a", gate: gate, emit: "sink")
        #expect(await a.started())
        let id = try #require(try bus.publish(1).first)
        #expect(await eventually { claimHolder(bus)?.worker.pid == a.process.pid })

        a.process.send(SIGSTOP)
        let b = try WorkerFixture(bus: bus, name: "b", gate: gate, emit: "sink")
        // Same host, pid alive: only the lease (1 s of an unchanged heartbeat) can expire A.
        #expect(await eventually { claimHolder(bus)?.worker.pid == b.process.pid })
        #expect(claimHolder(bus)?.epoch == 2)
        #expect(FileManager.default.createFile(atPath: gate + "/" + id, contents: nil))
        #expect(await eventually { bus.doneNames() == [id + ".e2.json"] })

        a.process.send(SIGCONT)
        #expect(await eventually { a.report.contains { $0.hasPrefix("processed \(id) 1") } })
        #expect(
            await eventually {
                journal(bus).contains { $0.event == .fenced && $0.worker.contains(".\(a.process.pid).") }
            })
        #expect(await a.stop() == .exited(0))
        #expect(await b.stop() == .exited(0))

        // The zombie changed nothing: one done file (epoch 2), one result, sent by B.
        #expect(bus.doneNames() == [id + ".e2.json"])
        #expect(bus.names("dead").isEmpty)
        #expect(bus.names("new").isEmpty && bus.names("cur").isEmpty)
        let results = bus.names("new", "sink")
        #expect(results.count == 1)
        let resultBytes = try #require(
            FileManager.default.contents(atPath: bus.bus.layout.new("sink") + "/" + results[0]))
        let result = try Envelope(decoding: Array(resultBytes))
        #expect(result.causation == id)
        #expect(result.from.pid == b.process.pid)
        let expire = try #require(journal(bus).first { $0.event == .expire })
        #expect(expire.reason?.contains("heartbeat unchanged") == true, "\(expire.reason ?? "")")
        #expect(!FileManager.default.fileExists(atPath: bus.bus.layout.workDirectory(role: "work", id: id, epoch: 1)))
    }

    @Test("a holder on another host (no fast path) is expired by its lease alone")
    func remoteHolderExpires() async throws {
        let bus = try TemporaryBus()
        let gate = bus.root + "/gate"
        try FileManager.default.createDirectory(atPath: gate, withIntermediateDirectories: true)
        let a = try WorkerFixture(bus: bus, name: "a", gate: gate, host: "otherhost")
        #expect(await a.started())
        let id = try #require(try bus.publish(1).first)
        #expect(await eventually { claimHolder(bus)?.worker.host == "otherhost" })
        a.process.send(SIGKILL)
        _ = await a.process.wait(timeout: testProcessTimeout).exit
        let b = try WorkerFixture(bus: bus, name: "b")
        #expect(await eventually { bus.doneNames() == [id + ".e2.json"] })
        #expect(await b.stop() == .exited(0))
        let expire = try #require(journal(bus).first { $0.event == .expire })
        #expect(expire.reason?.contains("heartbeat unchanged") == true, "\(expire.reason ?? "")")
    }
}

@Suite("Stop requests through ctl/", .timeLimit(.minutes(1)))
struct StopFileTests {
    @Test("a stop file for the role stops its workers gracefully; other roles keep working")
    func stopFile() async throws {
        let bus = try TemporaryBus(roles: ["work", "other"])
        let worker = try WorkerFixture(bus: bus, name: "w")
        let other = try WorkerFixture(bus: bus, role: "other", name: "o")
        #expect(await worker.started())
        #expect(await other.started())
        try StopFiles(layout: bus.bus.layout).requestStop("work")
        #expect(await worker.process.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(worker.report.contains { $0.hasPrefix("stopped ") })
        let workerID = try #require(worker.report.first { $0.hasPrefix("started ") }.map { String($0.dropFirst(8)) })
        let hb = try #require(Heartbeat.read(try WorkerID(parsing: workerID), layout: bus.bus.layout))
        #expect(hb.state == .stopped)
        #expect(other.process.exitStatus == nil)
        let ids = try bus.publish(3, to: "other")
        #expect(await eventually { bus.doneNames("other").count == ids.count })
        #expect(await other.stop() == .exited(0))
    }
}
