import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Bad input a real worker process meets beyond the envelope matrix of ``BadInputTests``: a valid
/// envelope in the wrong queue, a causation that names nothing, dangling symbolic links in every
/// queue folder a worker or janitor reads, and files that arrive while a rescan is listing the
/// queue. Each bad file is dead-lettered with its reason or left alone as docs/PROTOCOL.md says,
/// and the good envelopes around it are delivered exactly once by a worker that stays up.
@Suite("More bad input served by a real worker process", .serialized, .timeLimit(.minutes(5)))
struct BadInputMoreTests {
    /// A good envelope for `to` in run `run`, as its file bytes, with the id and time given.
    static func envelope(
        id: String, to: String = "work", causation: String? = nil, from: WorkerID, run: String = "more"
    ) throws -> [UInt8] {
        try Envelope(
            id: id, run: run, kind: "item", from: from, to: to, causation: causation, body: ["good": true]
        ).encoded()
    }

    /// Stages `bytes` in `tmp/` and renames them into `folder` as `name`, as a publisher would.
    static func place(_ bytes: [UInt8], in folder: String, as name: String, bus: TemporaryBus) throws {
        try FileOps.writeAtomically(
            bytes, to: folder + "/" + name, stagingDirectory: bus.bus.layout.tmp, mode: 0o600, durable: false)
    }

    /// Names in `folder` of `role` other than reason files.
    static func entries(_ bus: TemporaryBus, _ folder: String, _ role: String = "work") -> [String] {
        bus.names(folder, role).filter { !$0.hasSuffix(".reason.json") }.sorted()
    }

    /// The reason record of dead entry `file`, or an empty object.
    static func reason(_ bus: TemporaryBus, _ file: String, role: String = "work") -> [String: JSONValue] {
        DeadLetters.reason(layout: bus.bus.layout, role: role, file: file) ?? [:]
    }

    /// A worker id of this host whose process does not exist: a janitor on this host judges it dead.
    static func deadWorker() throws -> WorkerID {
        let me = try WorkerID.current(role: "work")
        var pid: Int32 = 999_999_000
        while kill(pid, 0) == 0 || errno != ESRCH { pid += 1 }
        return try WorkerID(parsing: "work.\(me.host).\(pid).0123456789abcdef")
    }

    // MARK: - Wrong role

    @Test("a valid envelope addressed to another role is dead-lettered in the queue it sits in, never forwarded")
    func wrongRole() async throws {
        let bus = try TemporaryBus(roles: ["work", "elsewhere"])
        let layout = bus.bus.layout
        let me = try WorkerID.current(role: "test")
        let before = try bus.publish(3)
        // The same mistake as a first delivery and as a redelivery (a name with an epoch).
        let firstID = EnvelopeID.make()
        let againID = EnvelopeID.make()
        try Self.place(
            try Self.envelope(id: firstID, to: "elsewhere", from: me), in: layout.new("work"), as: firstID + ".json",
            bus: bus)
        try Self.place(
            try Self.envelope(id: againID, to: "elsewhere", from: me), in: layout.new("work"), as: againID + ".e2.json",
            bus: bus)
        let after = try bus.publish(3)

        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { bus.doneNames().count == 6 && Self.entries(bus, "dead").count == 2 })
        #expect(worker.process.exitStatus == nil, "the worker died on a misaddressed envelope")
        #expect(await worker.stop() == .exited(0))

        #expect(worker.processed.map(\.id).sorted() == (before + after).sorted(), "each good envelope once")
        #expect(Self.entries(bus, "dead") == [firstID + ".e1.json", againID + ".e3.json"])
        for (file, original) in [
            (firstID + ".e1.json", firstID + ".json"), (againID + ".e3.json", againID + ".e2.json"),
        ] {
            let record = Self.reason(bus, file)
            #expect(record["reason"] == "addressed to \"elsewhere\" but found in the \"work\" queue")
            #expect(record["original_name"] == .string(original))
            #expect(record["run"] == "more", "the envelope decoded, so its run is recorded")
        }
        // Not forwarded, not marked as delivered, nothing left behind.
        #expect(bus.names("new", "elsewhere").isEmpty && bus.names("dead", "elsewhere").isEmpty)
        #expect(!bus.names("seen").contains(firstID) && !bus.names("seen").contains(againID))
        #expect(bus.names("seen", "elsewhere").isEmpty)
        #expect(bus.names("new").isEmpty && bus.names("cur").isEmpty && bus.names("retry").isEmpty)
        #expect(try FileOps.list(layout.tmp).isEmpty, "no stray staging files")
        // The dead line is in the run's journal, with the reason.
        let dead = JournalReader(layout: layout).events(run: "more").filter { $0.event == .dead }
        #expect(Set(dead.map(\.id)) == [firstID, againID])
        #expect(dead.allSatisfy { $0.reason?.hasPrefix("addressed to \"elsewhere\"") == true })
    }

    // MARK: - Causation

    @Test(
        "a causation naming an envelope that is nowhere on the bus is delivered as usual: causation is never looked up")
    func danglingCausation() async throws {
        let bus = try TemporaryBus()
        let layout = bus.bus.layout
        let me = try WorkerID.current(role: "test")
        let before = try bus.publish(2)
        let orphan = EnvelopeID.make()
        let nowhere = "1000000000000-nothing-like-it"
        try Self.place(
            try Self.envelope(id: orphan, causation: nowhere, from: me), in: layout.new("work"), as: orphan + ".json",
            bus: bus)
        let after = try bus.publish(2)

        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { bus.doneNames().count == 5 })
        #expect(await worker.stop() == .exited(0))

        #expect(worker.processed.map(\.id).sorted() == (before + after + [orphan]).sorted())
        #expect(Self.entries(bus, "dead").isEmpty, "nothing is dead-lettered")
        let done = layout.done("work", day: QueueNames.day(of: orphan)) + "/" + orphan + ".e1.json"
        let kept = try Envelope(decoding: Array(try #require(FileManager.default.contents(atPath: done))))
        #expect(kept.causation == nowhere, "the causation is kept as written")
        let claim = JournalReader(layout: layout).events(run: "more").first { $0.id == orphan && $0.event == .claim }
        #expect(claim?.causation == nowhere)
    }

    // MARK: - Dangling symbolic links

    @Test("dangling symlinks in new/, cur/ and retry/ are dead-lettered as symlinks, never followed or created")
    func danglingSymlinks() async throws {
        let bus = try TemporaryBus()
        let layout = bus.bus.layout
        let target = { (n: Int) in bus.root + "/missing-target-\(n).json" }
        let before = try bus.publish(2)
        // new/: a pending name, first delivery and redelivery.
        let inNew = EnvelopeID.make()
        let inNewAgain = EnvelopeID.make()
        #expect(symlink(target(1), layout.new("work") + "/" + inNew + ".json") == 0)
        #expect(symlink(target(2), layout.new("work") + "/" + inNewAgain + ".e1.json") == 0)
        // cur/: the claim of a holder that is dead, and a name that is no claim name (a note, left alone).
        let inCur = EnvelopeID.make()
        let holder = try Self.deadWorker()
        #expect(
            symlink(target(3), layout.cur("work") + "/" + QueueNames.claim(id: inCur, epoch: 1, worker: holder)) == 0)
        #expect(symlink(target(4), layout.cur("work") + "/not-a-claim.json") == 0)
        // retry/: a nacked name, due at once; and a name that is no retry name (ignored).
        let inRetry = EnvelopeID.make()
        #expect(
            symlink(target(5), layout.retry("work") + "/" + QueueNames.retry(id: inRetry, epoch: 1, delayMs: 0)) == 0)
        #expect(symlink(target(6), layout.retry("work") + "/stray") == 0)
        let after = try bus.publish(2)

        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { bus.doneNames().count == 4 && Self.entries(bus, "dead").count == 4 })
        #expect(worker.process.exitStatus == nil, "the worker died on a dangling link")
        #expect(await worker.stop() == .exited(0))

        #expect(worker.processed.map(\.id).sorted() == (before + after).sorted())
        let expected = [
            inNew + ".e1.json", inNewAgain + ".e2.json", inCur + ".e2.json", inRetry + ".e2.json",
        ]
        #expect(Self.entries(bus, "dead") == expected.sorted())
        for file in expected {
            #expect(Self.reason(bus, file)["reason"] == "not a regular file (symlink)", "\(file)")
            var st = stat()
            #expect(lstat(layout.dead("work") + "/" + file, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK)
        }
        // The taken-over claim and the requeued retry passed through new/ under their names.
        #expect(Self.reason(bus, inCur + ".e2.json")["original_name"] == .string(inCur + ".e1.json"))
        #expect(Self.reason(bus, inRetry + ".e2.json")["original_name"] == .string(inRetry + ".e1.json"))
        // Names that are no queue names stay where they are, untouched.
        #expect(bus.names("cur") == ["not-a-claim.json"])
        #expect(bus.names("retry") == ["stray"])
        #expect(bus.names("new").isEmpty)
        for n in 1...6 { #expect(!FileOps.exists(target(n)), "a link target was created") }
        #expect(Set(bus.names("seen")) == Set(before + after), "no marker for a link")
    }

    // MARK: - Arrivals during rescans

    /// Publishes `count` envelopes into `new/` from a thread of its own, by staging and renaming
    /// each (the writer's rule); `done` is set when the last one is in.
    final class Writer: Sendable {
        let ids: [String]
        let finished = Atomic<Bool>(false)

        init(bus: TemporaryBus, count: Int, prefix: String) throws {
            let me = try WorkerID.current(role: "writer")
            let ms = Timestamp.now().milliseconds
            let ids = (0..<count).map { String(format: "%013lld-%@-%06d", ms, prefix, $0) }
            self.ids = ids
            let payloads = try ids.map { try BadInputMoreTests.envelope(id: $0, from: me) }
            let thread = Thread { [self] in
                for (id, bytes) in zip(ids, payloads) {
                    try? BadInputMoreTests.place(bytes, in: bus.bus.layout.new("work"), as: id + ".json", bus: bus)
                }
                self.finished.store(true, ordering: .releasing)
            }
            thread.start()
        }

        var done: Bool { finished.load(ordering: .acquiring) }
    }

    @Test("files dropped while poll-mode rescans list the queue: none lost, none delivered twice")
    func arrivalsDuringPollRescans() async throws {
        let bus = try TemporaryBus()
        let worker = try WorkerFixture(
            bus: bus, name: "w", environment: ["PLANBUS_WAKE": "poll", "PLANBUS_POLL_MS": "10"])
        #expect(await worker.started())
        let writer = try Writer(bus: bus, count: 4_000, prefix: "poll")
        let wakesBefore = await eventually { writer.done } ? worker.report.count : 0
        #expect(await eventually(timeout: .seconds(120)) { bus.doneNames().count >= writer.ids.count })
        #expect(await worker.stop() == .exited(0))

        let processed = worker.processed
        #expect(processed.count == writer.ids.count, "\(processed.count) deliveries of \(writer.ids.count) envelopes")
        #expect(Set(processed.map(\.id)) == Set(writer.ids))
        #expect(processed.allSatisfy { $0.epoch == 1 }, "an envelope was delivered again")
        #expect(bus.doneNames().count == writer.ids.count)
        #expect(Self.entries(bus, "dead").isEmpty && bus.names("new").isEmpty && bus.names("cur").isEmpty)
        let polls = worker.report.prefix(wakesBefore).filter { $0.hasPrefix("wake") && $0.contains("poll") }
        #expect(polls.count > 1, "the writes overlapped \(polls.count) poll rescans")
    }

    @Test("files dropped while an inotify overflow rescan lists the queue: none lost, none delivered twice")
    func arrivalsDuringOverflowRescan() async throws {
        var settings = BusSettings.testing
        settings.rescanMs = 3_600_000  // no timer rescan: only hints and the overflow rescan deliver
        let bus = try TemporaryBus(settings: settings)
        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { worker.report.contains { $0.hasPrefix("wake") && $0.contains("watch-added") } })

        worker.process.send(SIGSTOP)
        let maxQueued = Int(lines(of: "/proc/sys/fs/inotify/max_queued_events").first ?? "16384") ?? 16384
        let backlog = try bus.publish(maxQueued + 2_000)
        // The writer starts as the worker resumes, so its files land while the overflow rescan runs.
        let writer = try Writer(bus: bus, count: 6_000, prefix: "late")
        worker.process.send(SIGCONT)
        let all = Set(backlog + writer.ids)
        #expect(
            await eventually(timeout: .seconds(240), interval: .milliseconds(200)) {
                bus.doneNames().count >= all.count
            },
            "only \(bus.doneNames().count) of \(all.count) reached done/")
        #expect(await worker.stop() == .exited(0))

        let processed = worker.processed
        #expect(worker.report.contains { $0.hasPrefix("wake") && $0.contains("overflow") }, "no overflow was seen")
        #expect(processed.count == all.count, "\(processed.count) deliveries of \(all.count) envelopes")
        #expect(Set(processed.map(\.id)) == all)
        #expect(processed.allSatisfy { $0.epoch == 1 }, "an envelope was delivered again")
        #expect(Self.entries(bus, "dead").isEmpty && bus.names("new").isEmpty && bus.names("cur").isEmpty)
    }
}

extension Tag {
    /// Tests that take minutes on a loaded 2-core machine; CI runs them as a step of their own.
    @Tag static var flood: Tag
}

/// A flood: 100,000 files dropped into one queue at once while a real worker process serves it.
/// It takes about two minutes on a loaded 2-core machine, so it is a suite of its own, tagged
/// `flood`, for a CI step of its own (`--filter BadInputFloodTests`; `--skip BadInputFloodTests`
/// elsewhere).
@Suite("A flood of envelopes in one queue", .serialized, .tags(.flood), .timeLimit(.minutes(10)))
struct BadInputFloodTests {
    /// The peak resident set of process `pid`, in KiB (`VmHWM` in `/proc/<pid>/status`).
    static func peakRSS(_ pid: Int32) -> Int? {
        // /proc files report a size of 0, so they are read until the end rather than by their size.
        let fd = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let n = read(fd, &buffer, buffer.count), n > 0 { bytes += buffer[..<n] }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.dropFirst(6).split(whereSeparator: \.isWhitespace).first ?? "")
        }
        return nil
    }

    @Test("100,000 files dropped into new/ at once are all delivered exactly once, with bounded memory")
    func hundredThousand() async throws {
        let count = 100_000
        let bus = try TemporaryBus()
        let layout = bus.bus.layout
        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { worker.report.contains { $0.hasPrefix("wake") && $0.contains("watch-added") } })
        let idle = try #require(Self.peakRSS(worker.process.pid))

        // Written directly and fast: one template, the id spliced in, each file staged in tmp/ and
        // renamed into new/ (the writer's rule), while the worker already serves the queue.
        let me = try WorkerID.current(role: "flood")
        let ms = Timestamp.now().milliseconds
        let ids = (0..<count).map { String(format: "%013lld-flood-%06d", ms, $0) }
        let marker = "ID-PLACEHOLDER"
        let template = String(
            decoding: try Envelope(id: "\(ms)-\(marker)", run: "flood", kind: "item", from: me, to: "work").encoded(),
            as: UTF8.self)
        let parts = template.components(separatedBy: "\(ms)-\(marker)")
        try #require(parts.count == 2)
        let head = Array(parts[0].utf8)
        let tail = Array(parts[1].utf8)
        let start = ContinuousClock.now
        for id in ids {
            let staging = layout.tmp + "/.flood.\(id)"
            let fd = open(staging, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            try #require(fd >= 0, "cannot create \(staging): errno \(errno)")
            try FileOps.writeAll(fd, head + Array(id.utf8) + tail, path: staging)
            try FileOps.closeChecked(fd, path: staging)
            try #require(rename(staging, layout.new("work") + "/" + id + ".json") == 0)
        }
        let written = ContinuousClock.now - start

        let finished = await eventually(timeout: .seconds(480), interval: .milliseconds(250)) {
            bus.doneNames().count >= count
        }
        let served = ContinuousClock.now - start
        let peak = Self.peakRSS(worker.process.pid)
        #expect(finished, "only \(bus.doneNames().count) of \(count) reached done/")
        #expect(await worker.stop() == .exited(0))
        print(
            "flood: \(count) files written in \(written), all served after \(served); worker peak RSS "
                + "\(peak.map { "\($0 / 1024) MiB" } ?? "unknown") (\(idle / 1024) MiB when idle)")

        let processed = worker.processed
        #expect(processed.count == count, "\(processed.count) deliveries of \(count) envelopes")
        #expect(Set(processed.map(\.id)) == Set(ids))
        #expect(processed.allSatisfy { $0.epoch == 1 }, "an envelope was delivered again")
        #expect(bus.names("new").isEmpty && bus.names("cur").isEmpty && bus.names("dead").isEmpty)
        // Memory is bounded: the names of a listing and the hints, not the envelopes, stay in memory.
        let peakKiB = try #require(peak)
        #expect(peakKiB - idle < 256 * 1024, "the worker grew by \((peakKiB - idle) / 1024) MiB for \(count) files")
    }
}
