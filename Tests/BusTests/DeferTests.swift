import Bus
import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Deferral in process, with real files: `RoleQueue.deferClaim`, and `max_attempts` counting
/// failures, not hand-backs.
@Suite("Deferral and max_attempts, in process", .timeLimit(.minutes(1)))
struct DeferQueueTests {
    let temp: TemporaryBus
    let publisher: Publisher
    let sender: WorkerID

    init() throws {
        try self.init(maxAttempts: 2)
    }

    init(maxAttempts: Int) throws {
        var settings = BusSettings.testing
        settings.maxAttempts = maxAttempts
        temp = try TemporaryBus(settings: settings)
        sender = try WorkerID.current(role: "sender")
        publisher = Publisher(bus: temp.bus, worker: sender)
    }

    var layout: BusLayout { temp.bus.layout }

    func publish() throws -> Envelope {
        let envelope = Envelope(run: "r1", kind: "task", from: sender, to: "work", body: [:])
        try publisher.publish(envelope)
        return envelope
    }

    func events(_ id: String) -> [JournalEvent] {
        JournalReader(layout: layout).events(run: "r1").filter { $0.id == id }
    }

    /// Runs janitor passes until the envelope is back in `new/`.
    func requeued(_ janitor: Janitor) async -> Bool {
        await eventually {
            _ = janitor.pass(roles: ["work"])
            return !temp.names("new").isEmpty
        }
    }

    @Test(
        "a deferral moves the claim to retry/ with the time left as delay, journals a release with not_before, and is taken again only after it"
    )
    func deferClaim() async throws {
        let envelope = try publish()
        let queue = try RoleQueue(bus: temp.bus, role: "work", worker: try WorkerID.current(role: "work"))
        let claim = try #require(try queue.claimNext())
        let work = claim.workDirectory(in: layout)
        try FileManager.default.createDirectory(atPath: work + "/out", withIntermediateDirectories: true)
        let before = Timestamp.now()
        let until = Timestamp(milliseconds: before.milliseconds + 700)
        try queue.deferClaim(claim, until: until, reason: "rate limited until the reset")

        #expect(temp.names("cur").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: work))
        let name = try #require(temp.names("retry").first)
        let parsed = try #require(QueueNames.parseRetry(name))
        #expect(parsed.id == envelope.id && parsed.epoch == 1)
        #expect(parsed.delayMs > 0 && parsed.delayMs <= 700)
        let release = try #require(events(envelope.id).first { $0.event == .release })
        #expect(release.notBefore == until.milliseconds)
        #expect(release.reason == "rate limited until the reset")
        #expect(release.epoch == 1)
        #expect(!events(envelope.id).contains { $0.event == .nack })

        let janitor = Janitor(bus: temp.bus, worker: try WorkerID.current(role: "janitor"))
        _ = janitor.pass(roles: ["work"])
        #expect(temp.names("new").isEmpty)
        #expect(await requeued(janitor))
        let requeue = try #require(events(envelope.id).first { $0.event == .requeue })
        #expect(requeue.time >= until)
        let again = try #require(try queue.claimNext())
        #expect(again.epoch == 2)

        let entry = Timeline(bus: temp.bus).entries(run: "r1", events: events(envelope.id)).first
        #expect(entry?.state == .claimed(by: queue.worker.description, epoch: 2))
    }

    @Test("a deferral's delay is capped at the largest a retry name holds; a past time gives 0")
    func delayBounds() throws {
        let queue = try RoleQueue(bus: temp.bus, role: "work", worker: try WorkerID.current(role: "work"))
        _ = try publish()
        let far = try #require(try queue.claimNext())
        try queue.deferClaim(
            far, until: Timestamp(milliseconds: Timestamp.now().milliseconds + 50_000_000_000), reason: "far")
        _ = try publish()
        let past = try #require(try queue.claimNext())
        try queue.deferClaim(past, until: Timestamp(milliseconds: 0), reason: "past")
        let delays = Dictionary(
            uniqueKeysWithValues: temp.names("retry").compactMap(QueueNames.parseRetry).map { ($0.id, $0.delayMs) })
        #expect(delays[far.envelope.id] == RoleQueue.maxRetryDelayMs)
        #expect(delays[past.envelope.id] == 0)
    }

    @Test("deferring a claim that was taken over is refused as fenced and journalled")
    func fenced() throws {
        let envelope = try publish()
        let queue = try RoleQueue(bus: temp.bus, role: "work", worker: try WorkerID.current(role: "work"))
        let claim = try #require(try queue.claimNext())
        // A janitor's take-over: the claim file goes back to new/.
        #expect(rename(claim.path, layout.new("work") + "/" + QueueNames.pending(id: envelope.id, epoch: 1)) == 0)
        #expect(throws: BusError.self) {
            try queue.deferClaim(claim, until: .now(), reason: "limit")
        }
        #expect(temp.names("retry").isEmpty)
        #expect(events(envelope.id).contains { $0.event == .fenced && ($0.reason ?? "").hasPrefix("defer refused") })
        #expect(!events(envelope.id).contains { $0.event == .release })
    }

    @Test(
        "nack: hand-backs (deferrals and a stopping worker's release) are not failures; max_attempts failures dead-letter"
    )
    func nackCountsFailures() async throws {
        let envelope = try publish()
        let queue = try RoleQueue(bus: temp.bus, role: "work", worker: try WorkerID.current(role: "work"))
        let janitor = Janitor(bus: temp.bus, worker: try WorkerID.current(role: "janitor"))
        // Epoch 1: deferred; epoch 2: released by a stopping worker; epoch 3: deferred.
        try queue.deferClaim(try #require(try queue.claimNext()), until: .now(), reason: "limit")
        #expect(await requeued(janitor))
        try queue.release(try #require(try queue.claimNext()))
        try queue.deferClaim(try #require(try queue.claimNext()), until: .now(), reason: "limit")
        #expect(await requeued(janitor))
        // Epoch 4 > max_attempts 2, but only the first failure: claimed, and its nack retries.
        let fourth = try #require(try queue.claimNext())
        #expect(fourth.epoch == 4)
        #expect(try queue.nack(fourth, reason: "boom") != .dead)
        #expect(temp.names("dead").isEmpty)
        #expect(await requeued(janitor))
        // Epoch 5: the second failure is the last.
        let fifth = try #require(try queue.claimNext())
        #expect(fifth.epoch == 5)
        #expect(try queue.nack(fifth, reason: "boom again") == .dead)
        let dead = try #require(events(envelope.id).first { $0.event == .dead })
        #expect(dead.epoch == 5)
        #expect(dead.reason?.hasPrefix("failed 2 deliveries (and 3 handed back) (max_attempts 2)") == true)

        // Plain failures: dead at epoch max_attempts.
        let plain = try publish()
        let first = try #require(try queue.claimNext())
        #expect(try queue.nack(first, reason: "x") != .dead)
        #expect(await requeued(janitor))
        let second = try #require(try queue.claimNext())
        #expect(second.envelope.id == plain.id && second.epoch == 2)
        #expect(try queue.nack(second, reason: "x") == .dead)
        #expect(
            events(plain.id).contains { $0.event == .dead && $0.reason?.hasPrefix("failed 2 deliveries (max") == true })
    }

    @Test("without a journal no hand-back is counted: the envelope is dead-lettered sooner, never retried for ever")
    func missingJournal() async throws {
        let envelope = try publish()
        let queue = try RoleQueue(bus: temp.bus, role: "work", worker: try WorkerID.current(role: "work"))
        let janitor = Janitor(bus: temp.bus, worker: try WorkerID.current(role: "janitor"))
        try queue.deferClaim(try #require(try queue.claimNext()), until: .now(), reason: "limit")
        #expect(await requeued(janitor))
        try FileManager.default.removeItem(atPath: layout.journal("r1"))
        let second = try #require(try queue.claimNext())
        #expect(second.epoch == 2)
        #expect(try queue.nack(second, reason: "boom") == .dead)
        #expect(temp.names("dead").contains(QueueNames.settled(id: envelope.id, epoch: 2)))
    }
}

/// Deferral and backoff in real worker processes: the testing role of `PlanbusTestWorker`.
@Suite("Deferral and backoff, worker processes", .timeLimit(.minutes(3)))
struct DeferWorkerTests {
    let temp: TemporaryBus
    let out: String
    let publisher: Publisher
    let sender: WorkerID

    init() throws {
        try self.init(maxAttempts: 5)
    }

    init(maxAttempts: Int) throws {
        var settings = BusSettings.testing
        settings.maxAttempts = maxAttempts
        temp = try TemporaryBus(settings: settings)
        out = temp.root + "/role.out"
        sender = try WorkerID.current(role: "sender")
        publisher = Publisher(bus: temp.bus, worker: sender)
    }

    var layout: BusLayout { temp.bus.layout }

    func startRole() throws -> ChildProcess {
        try ChildProcess.spawn(
            [Executables.testWorker, "role", "--bus", temp.path, "--role", "work", "--out", out],
            stdout: .file(temp.root + "/role.log"), stderr: .file(temp.root + "/role.log"))
    }

    @discardableResult
    func publish(_ body: [String: JSONValue]) throws -> String {
        let envelope = Envelope(run: "r1", kind: "task", from: sender, to: "work", body: body)
        try publisher.publish(envelope)
        return envelope.id
    }

    func events(_ id: String? = nil) -> [JournalEvent] {
        JournalReader(layout: layout).events(run: "r1").filter { id == nil || $0.id == id }
    }

    func heartbeat() -> Heartbeat? {
        let names = ((try? FileOps.list(layout.heartbeats("work"))) ?? []).filter { $0.hasSuffix(".json") }
        return names.first.flatMap { Heartbeat.read(path: layout.heartbeats("work") + "/" + $0) }
    }

    func isDone(_ id: String) -> Bool {
        temp.doneNames().contains { $0.hasPrefix(id + ".") }
    }

    @Test(
        "a deferred envelope waits in retry/ while the worker backs off, shown by its heartbeat and planbus ps; after the time it is claimed and acked"
    )
    func deferThenAck() async throws {
        let role = try startRole()
        defer { role.send(SIGKILL) }
        let id = try publish(["action": "defer", "ms": 30_000, "times": 1])
        #expect(await eventually { events(id).contains { $0.event == .release } })
        let release = try #require(events(id).first { $0.event == .release })
        let until = Timestamp(milliseconds: try #require(release.notBefore))
        #expect(release.epoch == 1)
        #expect(release.reason == "testing limit: resets at \(until)")
        let retried = temp.names("retry").compactMap(QueueNames.parseRetry)
        // Either still waiting in retry/, or (on a very slow machine) already handed back.
        if let entry = retried.first {
            #expect(entry.id == id && entry.epoch == 1)
            #expect(entry.delayMs > 0 && entry.delayMs <= 30_000)
        }

        // Meanwhile the worker backs off, and another envelope waits for it.
        let other = try publish(["action": "ok"])
        #expect(
            await eventually {
                guard let hb = heartbeat() else { return false }
                return hb.state == .backoff && hb.backoffUntil == until
                    && hb.backoffReason == "testing limit: resets at \(until)"
            })
        // `planbus ps` reads the heartbeat while the command runs: what it shows is checked when it
        // returned before the backoff's end (a loaded machine may take longer).
        let json = try await planbus("ps", "--bus", temp.path, "--json")
        if Timestamp.now() < until {
            let workers = try JSONValue.parse(Array(json.stdout.utf8))["workers"]?.arrayValue ?? []
            #expect(workers.contains { $0["backoff_until"]?.stringValue == until.description })
        }
        let ps = try await planbus("ps", "--bus", temp.path)
        if Timestamp.now() < until {
            #expect(ps.stdout.contains("backoff until \(until)"))
        }

        #expect(await eventually { isDone(id) && isDone(other) })
        let claims = events().filter { $0.event == .claim && ($0.id == other || ($0.id == id && $0.epoch == 2)) }
        #expect(claims.count == 2)
        // Nothing was claimed before the time: neither the deferred envelope nor the other one.
        #expect(claims.allSatisfy { $0.time >= until })
        #expect(events(id).contains { $0.event == .ack && $0.epoch == 2 })
        #expect(!events(id).contains { $0.event == .nack || $0.event == .dead })
        #expect(
            await eventually {
                guard let hb = heartbeat() else { return false }
                return hb.state == .idle && hb.backoffUntil == nil && hb.backoffReason == nil
            })
        role.send(SIGTERM)
        #expect(await role.wait(timeout: testProcessTimeout) == .ended(.exited(0)))
    }

    @Test("a worker backing off stops promptly on SIGTERM and on a stop file; the deferred envelope stays in retry/")
    func stopWhileBackingOff() async throws {
        for useStopFile in [false, true] {
            let role = try startRole()
            defer { role.send(SIGKILL) }
            let id = try publish(["action": "defer", "ms": 600_000, "times": 1])
            #expect(await eventually { heartbeat().map { $0.state == .backoff && $0.claims.isEmpty } ?? false })
            if useStopFile {
                try StopFiles(layout: layout).requestStop("work")
            } else {
                role.send(SIGTERM)
            }
            // Far sooner than the ten minutes of the backoff.
            #expect(await role.wait(timeout: .seconds(30)) == .ended(.exited(0)))
            #expect(heartbeat()?.state == .stopped)
            #expect(temp.names("retry").contains { $0.hasPrefix(id + ".e1.d") })
            #expect(!events(id).contains { $0.event == .claim && $0.epoch == 2 })
            if useStopFile { try FileManager.default.removeItem(atPath: layout.ctl + "/stop.work") }
            try FileManager.default.removeItem(atPath: layout.heartbeats("work"))
            try FileManager.default.createDirectory(
                atPath: layout.heartbeats("work"), withIntermediateDirectories: true)
        }
    }

    @Test("a role's own backoff, without deferring: its envelope is acked and nothing more is claimed before the time")
    func roleBackoff() async throws {
        let role = try startRole()
        defer { role.send(SIGKILL) }
        let id = try publish(["action": "backoff", "ms": 30_000])
        #expect(await eventually { isDone(id) })
        let line = try #require(lines(of: out).first { $0.hasPrefix("backoff \(id) ") })
        let until = Timestamp(milliseconds: try #require(line.split(separator: " ").last.flatMap { Int64($0) }))
        #expect(await eventually { heartbeat().map { $0.state == .backoff && $0.backoffUntil == until } ?? false })
        let next = try publish(["action": "ok"])
        #expect(await eventually { isDone(next) })
        let claim = try #require(events(next).first { $0.event == .claim })
        #expect(claim.time >= until)
        role.send(SIGTERM)
        #expect(await role.wait(timeout: testProcessTimeout) == .ended(.exited(0)))
    }
}

/// `max_attempts` with real worker processes and a small limit.
@Suite("max_attempts counts failures, worker processes", .timeLimit(.minutes(3)))
struct DeferAttemptsTests {
    @Test("deferring more times than max_attempts, then failing once, is retried; the next failure dead-letters")
    func deferralsAreNotAttempts() async throws {
        let fixture = try DeferWorkerTests(maxAttempts: 2)
        let role = try fixture.startRole()
        defer { role.send(SIGKILL) }
        let id = try fixture.publish(["action": "defer", "ms": 50, "times": 3, "then": "throw"])
        #expect(await eventually { fixture.events(id).contains { $0.event == .dead } })
        let events = fixture.events(id)
        #expect(Set(events.filter { $0.event == .release }.compactMap(\.epoch)) == [1, 2, 3])
        #expect(events.contains { $0.event == .nack && $0.epoch == 4 })
        let dead = try #require(events.first { $0.event == .dead })
        #expect(dead.epoch == 5)
        #expect(dead.reason?.hasPrefix("failed 2 deliveries (and 3 handed back)") == true)
        #expect(fixture.temp.names("dead").contains(QueueNames.settled(id: id, epoch: 5)))
    }

    @Test("plain failures still dead-letter at max_attempts")
    func plainFailures() async throws {
        let fixture = try DeferWorkerTests(maxAttempts: 2)
        let role = try fixture.startRole()
        defer { role.send(SIGKILL) }
        let id = try fixture.publish(["action": "throw"])
        #expect(await eventually { fixture.events(id).contains { $0.event == .dead } })
        let dead = try #require(fixture.events(id).first { $0.event == .dead })
        #expect(dead.epoch == 2)
        #expect(dead.reason?.hasPrefix("failed 2 deliveries (max_attempts 2)") == true)
        #expect(fixture.events(id).filter { $0.event == .nack }.compactMap(\.epoch) == [1])
    }
}
