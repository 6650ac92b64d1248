import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// In-process protocol tests with real files: publish, claim, ack, nack, retry, dead-letter,
/// fencing, the janitor's settling of staged results and staging files, and timelines.
@Suite("Queue protocol, in process", .timeLimit(.minutes(1)))
struct QueueTests {
    // MARK: - Fixture

    /// A temporary bus with a sender, and helpers to look at its folders.
    final class Fixture: Sendable {
        let temp: TemporaryBus
        let sender: WorkerID
        let publisher: Publisher

        init(settings: BusSettings = .testing, roles: [String] = ["work"]) throws {
            temp = try TemporaryBus(settings: settings, roles: roles)
            sender = try WorkerID.current(role: "sender")
            publisher = Publisher(bus: temp.bus, worker: sender)
        }

        var bus: Bus { temp.bus }
        var layout: BusLayout { temp.bus.layout }

        func queue(_ role: String = "work") throws -> RoleQueue {
            try RoleQueue(bus: bus, role: role, worker: try WorkerID.current(role: role))
        }

        func janitor() throws -> Janitor {
            Janitor(bus: bus, worker: try WorkerID.current(role: "janitor"))
        }

        func envelope(
            to role: String = "work", run: String = "r1", kind: String = "task", body: [String: JSONValue] = [:]
        )
            -> Envelope
        {
            Envelope(run: run, kind: kind, from: sender, to: role, body: body)
        }

        @discardableResult
        func publish(to role: String = "work", run: String = "r1", body: [String: JSONValue] = [:]) throws -> Envelope {
            let e = envelope(to: role, run: run, body: body)
            try publisher.publish(e)
            return e
        }

        /// Sorted names in a folder; empty when the folder is missing.
        func names(_ dir: String) -> [String] {
            ((try? FileOps.list(dir)) ?? []).sorted()
        }

        func donePath(_ role: String, id: String, epoch: Int) -> String {
            layout.done(role, day: QueueNames.day(of: id)) + "/" + QueueNames.settled(id: id, epoch: epoch)
        }

        func events(run: String = "r1", id: String) -> [JournalEvent] {
            JournalReader(layout: layout).events(run: run).filter { $0.id == id }
        }

        func decode(_ path: String) -> Envelope? {
            guard case .bytes(let b) = FileOps.readRegular(path, limit: 1 << 20) else { return nil }
            return try? Envelope(decoding: b)
        }

        /// Writes `bytes` at `path` through the bus's staging folder.
        func write(_ bytes: [UInt8], to path: String) throws {
            try FileOps.writeAtomically(bytes, to: path, stagingDirectory: layout.tmp, mode: 0o600, durable: false)
        }

        /// Claims exactly `id`'s first delivery.
        func claim(_ id: String, epoch: Int = 0, with queue: RoleQueue) throws -> Claim {
            let result = try queue.claim(QueueNames.pending(id: id, epoch: epoch))
            guard case .claimed(let claim) = result else {
                throw BusError(.notFound, "claim of \(id) came to \(result)")
            }
            return claim
        }
    }

    /// Polls `condition` every few milliseconds until it holds or `timeout` passes.
    // MARK: - Publish, claim, ack

    @Test("publish → claim → ack: the file ends in done/<day>/<id>.e1.json and the journal has the three steps")
    func publishClaimAck() throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let envelope = f.envelope(body: ["n": 1, "title": "first"])
        let receipt = try f.publisher.publish(envelope)
        #expect(receipt.id == envelope.id)
        #expect(receipt.path == f.layout.new("work") + "/" + envelope.id + ".json")
        #expect(f.names(f.layout.new("work")) == [envelope.id + ".json"])
        #expect(f.names(f.layout.tmp) == [], "no staging file is left behind")
        #expect(f.decode(receipt.path) == envelope)

        let worker = try WorkerID.current(role: "work")
        let queue = try RoleQueue(bus: f.bus, role: "work", worker: worker)
        let claim = try #require(try queue.claimNext())
        #expect(claim.envelope == envelope)
        #expect(claim.epoch == 1)
        #expect(claim.worker == worker)
        #expect(claim.path == f.layout.cur("work") + "/" + QueueNames.claim(id: envelope.id, epoch: 1, worker: worker))
        #expect(f.names(f.layout.new("work")) == [])
        #expect(f.names(f.layout.cur("work")) == [QueueNames.claim(id: envelope.id, epoch: 1, worker: worker)])
        #expect(queue.stillHolds(claim))
        #expect(f.names(f.layout.seen("work")) == [envelope.id], "a first delivery leaves a duplicate marker")

        try queue.ack(claim)
        let day = try #require(EnvelopeID.timestamp(of: envelope.id)).day
        let done = f.layout.queue("work") + "/done/" + day + "/" + envelope.id + ".e1.json"
        #expect(FileOps.exists(done))
        #expect(f.decode(done) == envelope)
        #expect(f.names(f.layout.cur("work")) == [])
        #expect(f.names(f.layout.new("work")) == [])
        #expect(!queue.stillHolds(claim))
        #expect(try queue.claimNext() == nil)

        let journalFiles = f.names(f.layout.journal("r1"))
        #expect(journalFiles.contains(f.sender.description + ".jsonl"))
        #expect(journalFiles.contains(worker.description + ".jsonl"))
        let events = f.events(id: envelope.id)
        #expect(events.map(\.event).sorted { $0.rawValue < $1.rawValue } == [.ack, .claim, .publish])
        let publish = try #require(events.first { $0.event == .publish })
        #expect(publish.role == "work")
        #expect(publish.worker == f.sender.description)
        #expect(publish.kind == "task")
        #expect(publish.summary == "first")
        let claimed = try #require(events.first { $0.event == .claim })
        #expect(claimed.epoch == 1)
        #expect(claimed.worker == worker.description)
        let acked = try #require(events.first { $0.event == .ack })
        #expect(acked.epoch == 1)
        #expect(acked.worker == worker.description)
        let workerOrder = events.filter { $0.worker == worker.description }.map(\.event)
        #expect(workerOrder == [.claim, .ack])
    }

    @Test("an invalid envelope is refused by publish and nothing becomes visible")
    func publishRefusesInvalid() throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        var envelope = f.envelope()
        envelope.run = "../escape"
        let error = #expect(throws: BusError.self) { try f.publisher.publish(envelope) }
        #expect(error?.code == .invalidEnvelope)
        #expect(f.names(f.layout.new("work")) == [])
        #expect(f.names(f.layout.tmp) == [])
        #expect(f.names(f.layout.runs) == [])
    }

    // MARK: - Nack, retry, dead

    @Test("nack → retry/ with epoch and delay; the janitor requeues only after the delay; the next claim is epoch 2")
    func nackRetryRequeue() async throws {
        var settings = BusSettings.testing
        settings.retryBaseMs = 100
        settings.retryCapMs = 1_000
        let f = try Fixture(settings: settings)
        defer { withExtendedLifetime(f) {} }
        let envelope = try f.publish()
        let queue = try f.queue()
        let claim = try #require(try queue.claimNext())
        let result = try queue.nack(claim, reason: "flaky dependency")
        guard case .retry(let delay) = result else {
            Issue.record("expected a retry, got \(result)")
            return
        }
        #expect((100...125).contains(delay), "retry_base_ms plus at most 25 % jitter")
        let retryName = QueueNames.retry(id: envelope.id, epoch: 1, delayMs: delay)
        #expect(f.names(f.layout.retry("work")) == [retryName])
        #expect(f.names(f.layout.cur("work")) == [])
        #expect(f.names(f.layout.new("work")) == [])
        #expect(try queue.claimNext() == nil, "nothing is claimable while the retry waits")

        let janitor = try f.janitor()
        let start = ContinuousClock.now
        let first = janitor.pass(roles: ["work"])
        #expect(first.requeued == 0, "a retry is not due when first seen")
        #expect(f.names(f.layout.retry("work")) == [retryName])

        var requeuedAfter: Duration?
        let requeued = await eventually(interval: .milliseconds(5)) {
            if janitor.pass(roles: ["work"]).requeued == 1 {
                requeuedAfter = ContinuousClock.now - start
                return true
            }
            return false
        }
        #expect(requeued)
        let elapsed = try #require(requeuedAfter)
        #expect(elapsed >= .milliseconds(delay), "requeued after \(elapsed), before its \(delay) ms delay")
        #expect(f.names(f.layout.retry("work")) == [])
        #expect(f.names(f.layout.new("work")) == [envelope.id + ".e1.json"])

        let second = try #require(try queue.claimNext())
        #expect(second.epoch == 2)
        #expect(second.envelope == envelope)
        #expect(FileOps.baseName(second.path) == QueueNames.claim(id: envelope.id, epoch: 2, worker: queue.worker))
        try queue.ack(second)
        #expect(FileOps.exists(f.donePath("work", id: envelope.id, epoch: 2)))
        #expect(!FileOps.exists(f.donePath("work", id: envelope.id, epoch: 1)))

        let events = f.events(id: envelope.id)
        let nack = try #require(events.first { $0.event == .nack })
        #expect(nack.epoch == 1)
        #expect(nack.reason == "flaky dependency")
        #expect(nack.notBefore != nil)
        let requeue = try #require(events.first { $0.event == .requeue })
        #expect(requeue.epoch == 1)
        let redelivery = try #require(events.first { $0.event == .claim && $0.epoch == 2 })
        #expect(redelivery.reason?.contains("redelivery") == true)
        #expect(events.contains { $0.event == .ack && $0.epoch == 2 })
    }

    @Test("a nack at max_attempts dead-letters the envelope with a reason")
    func maxAttemptsExhausted() throws {
        var settings = BusSettings.testing
        settings.maxAttempts = 2
        settings.retryBaseMs = 0
        let f = try Fixture(settings: settings)
        defer { withExtendedLifetime(f) {} }
        let envelope = try f.publish()
        let queue = try f.queue()
        let janitor = try f.janitor()

        let first = try #require(try queue.claimNext())
        #expect(try queue.nack(first, reason: "boom-1") == .retry(delayMs: 0))
        #expect(janitor.pass(roles: ["work"]).requeued == 1, "a zero delay is due at once")
        let second = try #require(try queue.claimNext())
        #expect(second.epoch == 2)
        #expect(try queue.nack(second, reason: "boom-2") == .dead)

        #expect(f.names(f.layout.dead("work")) == [envelope.id + ".e2.json", envelope.id + ".e2.json.reason.json"])
        #expect(f.names(f.layout.cur("work")) == [])
        #expect(f.names(f.layout.new("work")) == [])
        #expect(f.names(f.layout.retry("work")) == [])
        #expect(f.decode(f.layout.dead("work") + "/" + envelope.id + ".e2.json") == envelope)
        let items = DeadLetters.items(layout: f.layout, role: "work")
        #expect(items.count == 1)
        let reason = try #require(items.first?.reason)
        let text = try #require(reason["reason"]?.stringValue)
        #expect(text.contains("max_attempts 2"))
        #expect(text.contains("boom-2"))
        #expect(reason["id"] == .string(envelope.id))
        #expect(reason["epoch"] == 2)
        #expect(reason["role"] == "work")
        #expect(reason["run"] == "r1")

        let dead = try #require(f.events(id: envelope.id).first { $0.event == .dead })
        #expect(dead.epoch == 2)
        #expect(dead.reason?.contains("max_attempts 2") == true)
        #expect(try queue.claimNext() == nil)
    }

    @Test("a redelivery beyond max_attempts is dead-lettered at claim time")
    func redeliveryBeyondMaxAttempts() throws {
        var settings = BusSettings.testing
        settings.maxAttempts = 2
        let f = try Fixture(settings: settings)
        defer { withExtendedLifetime(f) {} }
        let envelope = try f.publish()
        // As left by two holders that died: released twice by janitors.
        let pending = f.layout.new("work") + "/" + QueueNames.pending(id: envelope.id, epoch: 2)
        #expect(try FileOps.moveIfPresent(f.layout.new("work") + "/" + envelope.id + ".json", to: pending))
        let queue = try f.queue()
        let result = try queue.claim(QueueNames.pending(id: envelope.id, epoch: 2))
        guard case .deadLettered(let reason) = result else {
            Issue.record("expected a dead letter, got \(result)")
            return
        }
        #expect(reason.contains("max_attempts 2"))
        #expect(f.names(f.layout.dead("work")) == [envelope.id + ".e3.json", envelope.id + ".e3.json.reason.json"])
        #expect(f.names(f.layout.cur("work")) == [])
        #expect(f.names(f.layout.new("work")) == [])
    }

    @Test("an ack after done/<day> was archived away recreates the folder; the claim is not reported fenced")
    func ackAfterDoneDayRemoved() throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        // Two envelopes of the same day: the first ack makes done/<day>/.
        let t = Timestamp.now()
        var first = f.envelope()
        first.id = EnvelopeID.make(at: t)
        var second = f.envelope()
        second.id = EnvelopeID.make(at: t)
        try f.publisher.publish(first)
        try f.publisher.publish(second)
        let queue = try f.queue()
        try queue.ack(try f.claim(first.id, with: queue))
        let day = QueueNames.day(of: second.id)
        #expect(FileOps.isDirectory(f.layout.done("work", day: day)))
        let claim = try f.claim(second.id, with: queue)

        // An operator archives the day's done/ folder while the worker still runs.
        FileOps.removeTree(f.layout.done("work", day: day))
        #expect(throws: Never.self) { try queue.ack(claim) }
        #expect(!queue.stillHolds(claim), "the claim is settled, not left in cur/")
        #expect(FileOps.exists(f.donePath("work", id: second.id, epoch: 1)))
    }

    // MARK: - Outputs

    @Test("ack with outputs commits first, then publishes the outputs to their queues")
    func ackPublishesOutputsAfterCommit() throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let input = try f.publish(body: ["question": "why"])
        let worker = try WorkerID.current(role: "work")
        let queue = try RoleQueue(bus: f.bus, role: "work", worker: worker)
        let claim = try #require(try queue.claimNext())
        let out1 = Envelope(
            run: "r1", kind: "answer", from: worker, to: "next", causation: input.id, body: ["because": "tests"])
        let out2 = Envelope(run: "r1", kind: "audit", from: worker, to: "audit", causation: input.id)

        // An invalid output: nothing is committed, nothing is published, the claim is still held.
        var bad = out1
        bad.kind = "Not A Kind"
        let error = #expect(throws: BusError.self) { try queue.ack(claim, outputs: [out2, bad]) }
        #expect(error?.code == .invalidEnvelope)
        #expect(queue.stillHolds(claim))
        #expect(!FileOps.exists(f.donePath("work", id: input.id, epoch: 1)))
        #expect(!FileOps.exists(claim.workDirectory(in: f.layout)))
        #expect(f.names(f.layout.new("next")) == [])
        #expect(f.names(f.layout.new("audit")) == [])

        try queue.ack(claim, outputs: [out1, out2])
        #expect(FileOps.exists(f.donePath("work", id: input.id, epoch: 1)))
        #expect(f.names(f.layout.new("next")) == [out1.id + ".json"])
        #expect(f.names(f.layout.new("audit")) == [out2.id + ".json"])
        #expect(f.decode(f.layout.new("next") + "/" + out1.id + ".json") == out1)
        #expect(f.decode(f.layout.new("audit") + "/" + out2.id + ".json") == out2)
        #expect(!FileOps.exists(claim.workDirectory(in: f.layout)), "the staging folder is removed")
        #expect(f.names(f.layout.work + "/work") == [])

        // The worker's own journal file is in the order things happened: the ack before the outputs.
        let mine = JournalReader(layout: f.layout).events(run: "r1").filter { $0.worker == worker.description }
        let ackIndex = try #require(mine.firstIndex { $0.event == .ack && $0.id == input.id })
        let pub1 = try #require(mine.firstIndex { $0.event == .publish && $0.id == out1.id })
        let pub2 = try #require(mine.firstIndex { $0.event == .publish && $0.id == out2.id })
        #expect(ackIndex < pub1)
        #expect(ackIndex < pub2)
        #expect(mine[pub1].role == "next")
        #expect(mine[pub1].causation == input.id)

        // The outputs are ordinary envelopes for their roles.
        let next = try f.queue("next")
        let got = try #require(try next.claimNext())
        #expect(got.envelope == out1)
    }

    // MARK: - Fencing

    enum LateStep: String, CaseIterable, Sendable {
        case ack, nack, deadLetter, release
    }

    @Test(
        "a fenced holder's ack, nack, dead-letter and release throw .fenced and change nothing",
        arguments: LateStep.allCases)
    func fencedStep(step: LateStep) throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let input = try f.publish()
        let workerA = try WorkerID.current(role: "work")
        let a = try RoleQueue(bus: f.bus, role: "work", worker: workerA)
        let claimA = try #require(try a.claimNext())
        #expect(claimA.epoch == 1)

        // Take-over, as a janitor does for a holder it judges dead: the claim goes back to new/ at its epoch.
        let released = f.layout.new("work") + "/" + QueueNames.pending(id: input.id, epoch: 1)
        #expect(try FileOps.moveIfPresent(claimA.path, to: released))
        let workerB = try WorkerID.current(role: "work")
        let b = try RoleQueue(bus: f.bus, role: "work", worker: workerB)
        let claimB = try #require(try b.claimNext())
        #expect(claimB.epoch == 2)
        #expect(!a.stillHolds(claimA))

        let output = Envelope(run: "r1", kind: "answer", from: workerA, to: "next", causation: input.id)
        let error = #expect(throws: BusError.self) {
            switch step {
            case .ack: try a.ack(claimA, outputs: [output])
            case .nack: try a.nack(claimA, reason: "late nack")
            case .deadLetter: try a.deadLetter(claimA, reason: "late dead-letter")
            case .release: try a.release(claimA, reason: "late release")
            }
        }
        #expect(error?.code == .fenced)

        // Nothing changed: B still holds it, no output, no stray files anywhere.
        #expect(b.stillHolds(claimB))
        #expect(f.names(f.layout.cur("work")) == [FileOps.baseName(claimB.path)])
        #expect(f.names(f.layout.new("work")) == [])
        #expect(f.names(f.layout.retry("work")) == [])
        #expect(f.names(f.layout.dead("work")) == [], "no dead letter and no orphan reason file")
        #expect(f.names(f.layout.done("work", day: QueueNames.day(of: input.id))) == [])
        #expect(f.names(f.layout.new("next")) == [], "a fenced ack publishes nothing")
        #expect(!FileOps.exists(claimA.workDirectory(in: f.layout)), "staged outputs of the fenced epoch are gone")
        #expect(f.names(f.layout.tmp) == [])
        let fenced = try #require(f.events(id: input.id).first { $0.event == .fenced })
        #expect(fenced.epoch == 1)
        #expect(fenced.worker == workerA.description)

        // The new holder finishes normally, and the timeline says so despite the late step.
        try b.ack(claimB)
        #expect(FileOps.exists(f.donePath("work", id: input.id, epoch: 2)))
        let entries = Timeline(bus: f.bus).entries(
            run: "r1", events: JournalReader(layout: f.layout).events(run: "r1"), verify: false)
        #expect(entries.first { $0.id == input.id }?.state == .done(epoch: 2))
    }

    @Test("acking a claim that is already settled is refused and publishes nothing again")
    func secondAckRefused() throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let input = try f.publish()
        let worker = try WorkerID.current(role: "work")
        let queue = try RoleQueue(bus: f.bus, role: "work", worker: worker)
        let claim = try #require(try queue.claimNext())
        let output = Envelope(run: "r1", kind: "answer", from: worker, to: "next", causation: input.id)
        try queue.ack(claim, outputs: [output])
        // The output is consumed before the (mistaken) second ack.
        let next = try f.queue("next")
        let consumed = try #require(try next.claimNext())
        #expect(consumed.envelope == output)
        try next.ack(consumed)
        #expect(f.names(f.layout.new("next")) == [])

        let error = #expect(throws: BusError.self) { try queue.ack(claim, outputs: [output]) }
        #expect(error?.code == .fenced, "the claim was settled by the first ack")
        #expect(f.names(f.layout.new("next")) == [], "the output is not published a second time")
        #expect(f.events(id: input.id).filter { $0.event == .ack }.count == 1)
        #expect(!FileOps.exists(claim.workDirectory(in: f.layout)))
    }

    // MARK: - Janitor: staged results

    @Test("the janitor publishes the staged results of a committed claim whose holder died before publishing")
    func janitorPublishesCommittedWork() throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let input = try f.publish()
        let worker = try WorkerID.current(role: "work")
        let queue = try RoleQueue(bus: f.bus, role: "work", worker: worker)
        let claim = try #require(try queue.claimNext())
        let output = Envelope(run: "r1", kind: "answer", from: worker, to: "next", causation: input.id, body: ["n": 42])

        // What ack does up to its commit, then the process "dies": staged outputs, claim in done/.
        let work = claim.workDirectory(in: f.layout)
        #expect(work == f.layout.work + "/work/" + input.id + ".e1")
        try FileOps.makeDirectories(work + "/out", mode: 0o700)
        try f.write(try output.encoded(), to: work + "/out/" + output.id + ".next.json")
        try FileOps.makeDirectories(f.layout.done("work", day: QueueNames.day(of: input.id)), mode: 0o700)
        #expect(try FileOps.moveIfPresent(claim.path, to: f.donePath("work", id: input.id, epoch: 1)))
        #expect(f.names(f.layout.new("next")) == [])

        let janitor = try f.janitor()
        let report = janitor.pass(roles: ["work"])
        #expect(report.republished == 1)
        #expect(report.droppedWork == 0)
        #expect(f.names(f.layout.new("next")) == [output.id + ".json"])
        #expect(f.decode(f.layout.new("next") + "/" + output.id + ".json") == output)
        #expect(!FileOps.exists(work))
        let published = try #require(f.events(id: output.id).first { $0.event == .publish })
        #expect(published.role == "next")
        #expect(published.causation == input.id)

        let again = janitor.pass(roles: ["work"])
        #expect(again.republished == 0)
        #expect(f.names(f.layout.new("next")) == [output.id + ".json"], "published once")
    }

    @Test("the janitor drops results staged by a fenced epoch, but only after a lease")
    func janitorDropsFencedWork() async throws {
        var settings = BusSettings.testing
        settings.leaseMs = 300
        let f = try Fixture(settings: settings)
        defer { withExtendedLifetime(f) {} }
        let input = try f.publish()
        let worker = try WorkerID.current(role: "work")
        let queue = try RoleQueue(bus: f.bus, role: "work", worker: worker)
        let claim = try #require(try queue.claimNext())
        let output = Envelope(run: "r1", kind: "answer", from: worker, to: "next", causation: input.id)
        let work = claim.workDirectory(in: f.layout)
        try FileOps.makeDirectories(work + "/out", mode: 0o700)
        try f.write(try output.encoded(), to: work + "/out/" + output.id + ".next.json")
        // Taken over: the claim is back in new/ and this epoch is neither held nor committed.
        let released = f.layout.new("work") + "/" + QueueNames.pending(id: input.id, epoch: 1)
        #expect(try FileOps.moveIfPresent(claim.path, to: released))

        let janitor = try f.janitor()
        let start = ContinuousClock.now
        let first = janitor.pass(roles: ["work"])
        #expect(first.droppedWork == 0, "a holder gets a lease to finish a commit in flight")
        #expect(FileOps.exists(work))

        var droppedAfter: Duration?
        let dropped = await eventually(interval: .milliseconds(5)) {
            let report = janitor.pass(roles: ["work"])
            #expect(report.republished == 0)
            if report.droppedWork == 1 {
                droppedAfter = ContinuousClock.now - start
                return true
            }
            return false
        }
        #expect(dropped)
        let elapsed = try #require(droppedAfter)
        #expect(elapsed >= .milliseconds(settings.leaseMs))
        #expect(!FileOps.exists(work))
        #expect(f.names(f.layout.new("next")) == [], "fenced results are never published")
        #expect(
            f.names(f.layout.new("work")) == [QueueNames.pending(id: input.id, epoch: 1)], "the envelope still waits")
        let late = #expect(throws: BusError.self) { try queue.ack(claim) }
        #expect(late?.code == .fenced)
    }

    // MARK: - Janitor: staging files

    @Test("a staging file whose writer is dead is removed; a live writer's and a remote host's are kept")
    func janitorRemovesStaleStaging() async throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let child = try ChildProcess.spawn(["/bin/true"], stdout: .null, stderr: .null)
        let exit = await child.wait(timeout: testProcessTimeout).exit
        #expect(exit == .exited(0))
        let deadPid = child.pid
        try #require(!ProcessInfo.exists(deadPid), "pid \(deadPid) was reused already")
        try #require(ProcessInfo.exists(getpid()))

        let stale = ".\(Host.name).\(deadPid).abc.pub"
        let live = ".\(Host.name).\(getpid()).abc.pub"
        let remote = ".another-host-\(Host.name).\(deadPid).abc.pub"
        for name in [stale, live, remote] {
            let path = f.layout.tmp + "/" + name
            let fd = try #require(try FileOps.createExclusive(path, mode: 0o600))
            try FileOps.writeAll(fd, Array("partial".utf8), path: path)
            try FileOps.closeChecked(fd, path: path)
        }
        #expect(QueueNames.parseStaging(stale)?.pid == deadPid)

        let report = try f.janitor().pass(roles: ["work"])
        #expect(report.staleTmp == 1)
        #expect(!FileOps.exists(f.layout.tmp + "/" + stale))
        #expect(FileOps.exists(f.layout.tmp + "/" + live), "the writer is alive")
        #expect(FileOps.exists(f.layout.tmp + "/" + remote), "another host's pids say nothing here")
    }

    // MARK: - Timeline

    /// A run with one envelope in each state: done, claimed, retry, dead, waiting.
    struct States {
        let f: Fixture
        let worker: WorkerID
        let queue: RoleQueue
        let done: Envelope
        let claimed: Envelope
        let retry: Envelope
        let dead: Envelope
        let waiting: Envelope
        let heldClaim: Claim

        init() throws {
            f = try Fixture()
            worker = try WorkerID.current(role: "work")
            queue = try RoleQueue(bus: f.bus, role: "work", worker: worker)
            done = try f.publish(run: "tl", body: ["title": "to be done"])
            claimed = try f.publish(run: "tl", body: ["title": "to be held"])
            retry = try f.publish(run: "tl", body: ["title": "to be retried"])
            dead = try f.publish(run: "tl", body: ["title": "to be dead"])
            waiting = try f.publish(run: "tl", body: ["title": "to wait"])
            try queue.ack(try f.claim(done.id, with: queue))
            heldClaim = try f.claim(claimed.id, with: queue)
            try queue.nack(try f.claim(retry.id, with: queue), reason: "boom")
            try queue.deadLetter(try f.claim(dead.id, with: queue), reason: "hopeless")
        }

        func entries(verify: Bool) -> [String: Timeline.Entry] {
            let events = JournalReader(layout: f.layout).events(run: "tl")
            let list = Timeline(bus: f.bus).entries(run: "tl", events: events, verify: verify)
            return Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    @Test("the journal folds into done, claimed, retry, dead and waiting states")
    func timelineFold() throws {
        let s = try States()
        defer { withExtendedLifetime(s.f) {} }
        #expect(JournalReader(layout: s.f.layout).runs().contains("tl"))
        let events = JournalReader(layout: s.f.layout).events(run: "tl")
        let list = Timeline(bus: s.f.bus).entries(run: "tl", events: events, verify: false)
        #expect(list.count == 5)
        #expect(
            list.map(\.id) == [s.done.id, s.claimed.id, s.retry.id, s.dead.id, s.waiting.id], "ordered by creation")
        let e = s.entries(verify: false)
        #expect(e[s.done.id]?.state == .done(epoch: 1))
        #expect(e[s.claimed.id]?.state == .claimed(by: s.worker.description, epoch: 1))
        #expect(e[s.retry.id]?.state == .retry(epoch: 1, reason: "boom"))
        #expect(e[s.dead.id]?.state == .dead(reason: "hopeless"))
        #expect(e[s.waiting.id]?.state == .waiting(epoch: 0))
        let done = try #require(e[s.done.id])
        #expect(done.kind == "task")
        #expect(done.from == s.f.sender.description)
        #expect(done.summary == "to be done")
        #expect(done.role == "work")
        #expect(done.run == "tl")
        #expect(done.history.map(\.event) == [.publish, .claim, .ack])
        #expect(e.values.allSatisfy { $0.run == "tl" })
    }

    @Test("verification against the folders agrees with the journal and keeps its details")
    func timelineVerified() throws {
        let s = try States()
        defer { withExtendedLifetime(s.f) {} }
        let e = s.entries(verify: true)
        #expect(e[s.done.id]?.state == .done(epoch: 1))
        #expect(e[s.claimed.id]?.state == .claimed(by: s.worker.description, epoch: 1))
        #expect(e[s.dead.id]?.state == .dead(reason: "hopeless"))
        #expect(e[s.waiting.id]?.state == .waiting(epoch: 0))
        // The folders confirm the retry; the journal's reason for it must survive the check.
        #expect(e[s.retry.id]?.state == .retry(epoch: 1, reason: "boom"))
    }

    @Test("verification corrects a journal that is behind the folders")
    func timelineVerifiedCorrects() throws {
        let s = try States()
        defer { withExtendedLifetime(s.f) {} }
        // A take-over the journal did not hear about: the held claim is back in new/ at epoch 1.
        let released = s.f.layout.new("work") + "/" + QueueNames.pending(id: s.claimed.id, epoch: 1)
        #expect(try FileOps.moveIfPresent(s.heldClaim.path, to: released))
        #expect(s.entries(verify: false)[s.claimed.id]?.state == .claimed(by: s.worker.description, epoch: 1))
        #expect(s.entries(verify: true)[s.claimed.id]?.state == .waiting(epoch: 1))
    }

    @Test("Timeline.locate finds envelopes by name in every folder, without journal lines")
    func locateWithoutJournal() throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let holder = try WorkerID.current(role: "work")
        func make() throws -> (Envelope, [UInt8]) {
            let e = f.envelope(run: "quiet")
            return (e, try e.encoded())
        }
        let (waiting, wb) = try make()
        try f.write(wb, to: f.layout.new("work") + "/" + QueueNames.pending(id: waiting.id, epoch: 0))
        let (released, rb) = try make()
        try f.write(rb, to: f.layout.new("work") + "/" + QueueNames.pending(id: released.id, epoch: 2))
        let (claimed, cb) = try make()
        try f.write(cb, to: f.layout.cur("work") + "/" + QueueNames.claim(id: claimed.id, epoch: 1, worker: holder))
        let (retry, tb) = try make()
        try f.write(tb, to: f.layout.retry("work") + "/" + QueueNames.retry(id: retry.id, epoch: 3, delayMs: 100))
        let (done, db) = try make()
        try FileOps.makeDirectories(f.layout.done("work", day: QueueNames.day(of: done.id)), mode: 0o700)
        try f.write(db, to: f.donePath("work", id: done.id, epoch: 2))
        let (dead, xb) = try make()
        let deadName = QueueNames.settled(id: dead.id, epoch: 1)
        try f.write(xb, to: f.layout.dead("work") + "/" + deadName)
        try f.write(
            Array("{\"reason\": \"bad thing\", \"file\": \"\(deadName)\"}\n".utf8),
            to: f.layout.dead("work") + "/" + deadName + ".reason.json")

        #expect(JournalReader(layout: f.layout).events(run: "quiet").isEmpty)
        #expect(!JournalReader(layout: f.layout).runs().contains("quiet"))
        let timeline = Timeline(bus: f.bus)
        #expect(timeline.locate(waiting.id, role: "work") == .waiting(epoch: 0))
        #expect(timeline.locate(released.id, role: "work") == .waiting(epoch: 2))
        #expect(timeline.locate(claimed.id, role: "work") == .claimed(by: holder.description, epoch: 1))
        #expect(timeline.locate(retry.id, role: "work") == .retry(epoch: 3, reason: nil))
        #expect(timeline.locate(done.id, role: "work") == .done(epoch: 2))
        #expect(timeline.locate(dead.id, role: "work") == .dead(reason: "bad thing"))
        #expect(timeline.locate(EnvelopeID.make(), role: "work") == nil)
        #expect(timeline.locate(done.id, role: "other") == nil)

        let found = try EnvelopeLocator(bus: f.bus).find(dead.id)
        #expect(found.count == 1)
        #expect(found.first?.state == "dead")
        #expect(found.first?.envelope == dead)
        #expect(found.first?.deadReason?["reason"] == "bad thing")
    }
}

@Suite("Settling when a folder was removed by hand")
struct MissingFolderTests {
    @Test("an id reused after its marker was pruned is committed beside the first, not taken for fencing")
    func reusedIDAfterPrune() throws {
        let bus = try TemporaryBus()
        let id = try #require(try bus.publish(1).first)
        let queue = try RoleQueue(bus: bus.bus, role: "work", worker: try WorkerID.current(role: "work"))
        try queue.ack(try #require(try queue.claimNext()))
        try FileManager.default.removeItem(atPath: bus.bus.layout.seen("work") + "/" + id)
        let again = Envelope(id: id, run: "run1", kind: "item", from: try WorkerID.current(role: "test"), to: "work")
        try Publisher(bus: bus.bus, worker: again.from).publish(again)
        let claim = try #require(try queue.claimNext())
        #expect(throws: Never.self) { try queue.ack(claim) }
        let done = bus.doneNames().sorted()
        #expect(done.count == 2)
        #expect(done.contains(id + ".e1.json"))
        #expect(done.contains { $0.hasPrefix(id + ".e1.dup-") })
        #expect(bus.names("cur").isEmpty)
    }

    @Test("a nack or release into a removed folder makes it again instead of reporting fencing")
    func missingDestination() throws {
        let bus = try TemporaryBus()
        try bus.publish(2)
        let queue = try RoleQueue(bus: bus.bus, role: "work", worker: try WorkerID.current(role: "work"))
        let first = try #require(try queue.claimNext())
        try FileManager.default.removeItem(atPath: bus.bus.layout.retry("work"))
        #expect(throws: Never.self) { try queue.nack(first, reason: "boom") }
        #expect(bus.names("retry").count == 1)

        let second = try #require(try queue.claimNext())
        try FileManager.default.removeItem(atPath: bus.bus.layout.new("work"))
        #expect(throws: Never.self) { try queue.release(second) }
        #expect(bus.names("new").count == 1)
        #expect(bus.names("cur").isEmpty)
    }
}
