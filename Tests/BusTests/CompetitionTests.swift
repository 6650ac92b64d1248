import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Competing worker processes", .serialized, .timeLimit(.minutes(5)))
struct CompetitionTests {
    @Test("4 processes share 10,000 envelopes: each processed exactly once, none lost")
    func exactlyOnce() async throws {
        let bus = try TemporaryBus()
        let workers = try (0..<4).map { try WorkerFixture(bus: bus, name: "w\($0)") }
        for w in workers { #expect(await w.started()) }
        let ids = try bus.publish(10_000)

        let finished = await eventually(timeout: .seconds(240), interval: .milliseconds(200)) {
            bus.doneNames().count >= ids.count
        }
        #expect(finished, "only \(bus.doneNames().count) of \(ids.count) envelopes reached done/")
        for w in workers { #expect(await w.stop() == .exited(0)) }

        var seen: [String: Int] = [:]
        for w in workers {
            for (id, _) in w.processed { seen[id, default: 0] += 1 }
        }
        #expect(Set(seen.keys) == Set(ids), "processed ids differ from published ids")
        #expect(seen.values.allSatisfy { $0 == 1 }, "some envelope was processed twice")
        #expect(Set(bus.doneNames()) == Set(ids.map { $0 + ".e1.json" }))
        #expect(bus.names("new").isEmpty)
        #expect(bus.names("cur").isEmpty)
        #expect(bus.names("dead").isEmpty)
        let busy = workers.filter { !$0.processed.isEmpty }.count
        #expect(busy >= 2, "the workers did not compete: only \(busy) processed anything")
    }

    @Test("a crash between write and rename never leaves a visible partial envelope")
    func crashMidPublish() async throws {
        var settings = BusSettings.testing
        settings.durable = true
        let bus = try TemporaryBus(settings: settings)
        var leftovers = 0
        for round in 0..<30 where leftovers == 0 {
            let before = bus.names("new").count
            let producer = try ChildProcessLauncher.publisher(bus: bus, run: "crash\(round)", count: 1_000_000)
            #expect(await eventually(interval: .milliseconds(1)) { bus.names("new").count > before })
            producer.send(SIGKILL)
            _ = await producer.wait(timeout: testProcessTimeout).exit
            // Every visible envelope is complete and valid.
            for name in bus.names("new") {
                let bytes = try #require(FileManager.default.contents(atPath: bus.bus.layout.new("work") + "/" + name))
                #expect(throws: Never.self) { try Envelope(decoding: Array(bytes)) }
                #expect(!name.hasPrefix("."))
            }
            let tmp = try FileManager.default.contentsOfDirectory(atPath: bus.bus.layout.tmp)
            #expect(tmp.allSatisfy { $0.hasPrefix(".") })
            leftovers += tmp.filter { $0.contains(".\(producer.pid).") }.count
        }
        #expect(leftovers > 0, "no kill landed between write and rename in 30 rounds")
        // The janitor recognises the dead writer's staging files and removes them.
        let report = Janitor(bus: bus.bus, worker: try WorkerID.current(role: "janitor")).pass()
        #expect(report.staleTmp >= leftovers)
        #expect(try FileManager.default.contentsOfDirectory(atPath: bus.bus.layout.tmp).isEmpty)
    }
}
