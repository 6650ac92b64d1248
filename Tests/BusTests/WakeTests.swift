import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Wake-up: inotify overflow and poll mode", .serialized, .timeLimit(.minutes(5)))
struct WakeTests {
    @Test("an inotify queue overflow loses nothing")
    func overflowLosesNothing() async throws {
        var settings = BusSettings.testing
        settings.rescanMs = 3_600_000  // no periodic rescan: only the overflow rescan can save the day
        let bus = try TemporaryBus(settings: settings)
        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { worker.report.contains { $0.hasPrefix("wake") && $0.contains("watch-added") } })

        worker.process.send(SIGSTOP)
        let maxQueued = Int(lines(of: "/proc/sys/fs/inotify/max_queued_events").first ?? "16384") ?? 16384
        let ids = try bus.publish(maxQueued + 4_000)
        worker.process.send(SIGCONT)

        let finished = await eventually(timeout: .seconds(240), interval: .milliseconds(200)) {
            bus.doneNames().count >= ids.count
        }
        #expect(finished, "only \(bus.doneNames().count) of \(ids.count) reached done/")
        #expect(await worker.stop() == .exited(0))
        #expect(worker.report.contains { $0.hasPrefix("wake") && $0.contains("overflow") }, "no overflow was seen")
        #expect(Set(worker.processed.map(\.id)) == Set(ids))
        #expect(worker.processed.count == ids.count)
    }

    @Test("poll mode delivers everything with inotify off")
    func pollMode() async throws {
        let bus = try TemporaryBus()
        let worker = try WorkerFixture(bus: bus, name: "w", environment: ["PLANBUS_WAKE": "poll"])
        #expect(await worker.started())
        let ids = try bus.publish(300)
        #expect(await eventually { bus.doneNames().count == ids.count })
        #expect(await worker.stop() == .exited(0))
        #expect(Set(worker.processed.map(\.id)) == Set(ids))
        #expect(worker.report.contains { $0.hasPrefix("wake") && $0.contains("poll") })
        #expect(!worker.report.contains { $0.contains("watch-added") }, "inotify was used in poll mode")
    }

    @Test("the wake source reports arrivals by name in inotify mode")
    func inotifyNames() async throws {
        let bus = try TemporaryBus()
        var settings = bus.bus.settings
        settings.wake = .inotify
        let source = WakeSource(directories: [bus.bus.layout.new("work")], root: bus.path, settings: settings)
        var iterator = source.makeAsyncIterator()
        // Wait for the watch to be in place (the hub asks for a rescan once it is).
        while let batch = await iterator.next(), !batch.reasons.contains("watch-added") {}
        let ids = try bus.publish(3)
        var names: [String] = []
        while names.count < 3, let batch = await iterator.next() {
            names += batch.names[bus.bus.layout.new("work")] ?? []
        }
        #expect(names == ids.map { $0 + ".json" })
    }

    @Test("a network or FUSE filesystem is recognised as remote")
    func filesystemKinds() throws {
        #expect(FilesystemKind(magic: 0x6969).isRemote)
        #expect(FilesystemKind(magic: 0x6573_5546).isRemote)
        #expect(!FilesystemKind(magic: 0xEF53).isRemote)
        let here = try FilesystemKind.of("/tmp")
        #expect(!here.isRemote, "/tmp is \(here)")
    }
}

@Suite("Wake-up survives a replaced folder", .serialized, .timeLimit(.minutes(2)))
struct RewatchTests {
    @Test("after new/ is removed and made again, or moved away and replaced, arrivals still wake the worker")
    func rewatch() async throws {
        var settings = BusSettings.testing
        settings.rescanMs = 3_600_000  // only inotify (or the poll fallback while unwatched) can deliver
        settings.pollMs = 600_000
        let bus = try TemporaryBus(settings: settings)
        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { worker.report.contains { $0.hasPrefix("wake") && $0.contains("watch-added") } })
        let newDir = bus.bus.layout.new("work")
        let fm = FileManager.default

        try fm.removeItem(atPath: newDir)
        try fm.createDirectory(atPath: newDir, withIntermediateDirectories: false)
        #expect(await eventually { worker.report.filter { $0.contains("watch-added") }.count >= 2 })
        let first = try bus.publish(5)
        #expect(await eventually { bus.doneNames().count == 5 })

        try fm.moveItem(atPath: newDir, toPath: newDir + ".old")
        try fm.createDirectory(atPath: newDir, withIntermediateDirectories: false)
        #expect(await eventually { worker.report.filter { $0.contains("watch-added") }.count >= 3 })
        let second = try bus.publish(5)
        #expect(await eventually { bus.doneNames().count == 10 })

        #expect(await worker.stop() == .exited(0))
        #expect(Set(worker.processed.map(\.id)) == Set(first + second))
    }
}
