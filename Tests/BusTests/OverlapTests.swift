import Bus
import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("A handler that lets its worker claim the next envelope early", .serialized, .timeLimit(.minutes(3)))
struct OverlapTests {
    /// The `claimed <id> <handlers running>` lines of a worker, in order.
    private func claims(_ worker: WorkerFixture) -> [(id: String, running: Int)] {
        worker.report.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "claimed", let running = Int(parts[2]) else { return nil }
            return (String(parts[1]), running)
        }
    }

    private func index(of line: String, in worker: WorkerFixture) -> Int? {
        worker.report.firstIndex(of: line)
    }

    /// A bus, a gate folder, and a started test worker whose handlers allow the next claim.
    private func start(overlap: Bool) async throws -> (TemporaryBus, String, WorkerFixture) {
        let bus = try TemporaryBus()
        let gate = bus.root + "/gate"
        try FileManager.default.createDirectory(atPath: gate, withIntermediateDirectories: true)
        let worker = try WorkerFixture(bus: bus, name: "w", gate: gate, allowNext: true, overlap: overlap)
        #expect(await worker.started())
        return (bus, gate, worker)
    }

    private func open(_ gate: String, _ id: String) {
        #expect(FileManager.default.createFile(atPath: gate + "/" + id, contents: nil))
    }

    @Test("with overlap, the next envelope is claimed while the handler finishes; never more than two in hand")
    func overlapping() async throws {
        let (bus, gate, worker) = try await start(overlap: true)
        let ids = try bus.publish(3)
        // The first handler waits at its gate; having allowed the next claim, the second runs beside it.
        #expect(await eventually { claims(worker).count == 2 && worker.report.contains("allowed \(ids[1])") })
        #expect(claims(worker).map(\.id) == [ids[0], ids[1]])
        #expect(claims(worker).map(\.running) == [1, 2])
        // The third waits for the first to be settled, though the second allowed it too.
        open(gate, ids[0])
        #expect(await eventually { claims(worker).count == 3 })
        open(gate, ids[1])
        open(gate, ids[2])
        #expect(await eventually { bus.doneNames().count == 3 })
        #expect(await worker.stop() == .exited(0))

        #expect(claims(worker).map(\.id) == ids)
        #expect(claims(worker).allSatisfy { $0.running <= 2 }, "\(worker.report)")
        let third = try #require(index(of: "claimed \(ids[2]) 2", in: worker), "\(worker.report)")
        let first = try #require(index(of: "processed \(ids[0]) 1", in: worker))
        #expect(first < third, "\(worker.report)")
        #expect(Set(worker.processed.map(\.id)) == Set(ids))
        #expect(bus.doneNames().sorted() == ids.map { $0 + ".e1.json" }.sorted())
    }

    @Test("a stop with two envelopes in hand finishes and settles both, and claims nothing more")
    func stopWithTwoInHand() async throws {
        let (bus, gate, worker) = try await start(overlap: true)
        let ids = try bus.publish(3)
        #expect(await eventually { claims(worker).count == 2 && worker.report.contains("allowed \(ids[1])") })
        let started = try #require(worker.report.first { $0.hasPrefix("started ") })
        let id = try WorkerID(parsing: String(started.dropFirst("started ".count)))
        worker.process.send(SIGTERM)
        #expect(await eventually { Heartbeat.read(id, layout: bus.bus.layout)?.state == .stopping })
        open(gate, ids[0])
        open(gate, ids[1])
        #expect(await worker.process.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(Set(worker.processed.map(\.id)) == [ids[0], ids[1]])
        #expect(bus.doneNames().sorted() == [ids[0], ids[1]].map { $0 + ".e1.json" }.sorted())
        #expect(claims(worker).map(\.id) == [ids[0], ids[1]])
        #expect(bus.names("new").count == 1)
    }

    @Test("without overlap, a handler's call to allow the next claim changes nothing: one envelope in hand")
    func withoutOverlap() async throws {
        let (bus, gate, worker) = try await start(overlap: false)
        let ids = try bus.publish(2)
        #expect(await eventually { worker.report.contains("allowed \(ids[0])") })
        open(gate, ids[0])
        #expect(await eventually { claims(worker).count == 2 })
        open(gate, ids[1])
        #expect(await eventually { bus.doneNames().count == 2 })
        #expect(await worker.stop() == .exited(0))

        #expect(claims(worker).map(\.running) == [1, 1], "\(worker.report)")
        let second = try #require(index(of: "claimed \(ids[1]) 1", in: worker))
        let first = try #require(index(of: "processed \(ids[0]) 1", in: worker))
        #expect(first < second, "\(worker.report)")
    }
}
