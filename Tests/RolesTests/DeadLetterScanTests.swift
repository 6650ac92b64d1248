import Bus
import BusTesting
import Foundation
import Testing

@testable import Roles

/// The planner's scan of `q/*/dead/`: one notice per dead letter of an active run, however many
/// scans find it (real bus, real queues).
@Suite("Dead letter scan")
struct DeadLetterScanTests {
    /// A bus with a planner, a builder and a verifier queue, and run `r1` active.
    func bus() throws -> TemporaryBus {
        let temporary = try TemporaryBus(roles: ["planner", "builder", "verifier"])
        try status(temporary.bus, run: "r1", finished: false)
        return temporary
    }

    func status(_ bus: Bus, run: String, finished: Bool) throws {
        let folder = bus.layout.run(run)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "{\"run\":\"\(run)\",\"finished\":\(finished)}\n".write(
            toFile: folder + "/status.json", atomically: true, encoding: .utf8)
    }

    /// Publishes a build of `run` to the builder, claims it, and dead-letters it through the queue
    /// as the janitor does for a holder that died at max_attempts.
    func deadBuild(_ bus: Bus, run: String = "r1", kind: String = "build", to role: String = "builder") throws
        -> Envelope
    {
        let planner = try WorkerID.current(role: "planner")
        let envelope = Envelope(
            run: run, task: "a", kind: kind, from: planner, to: role, attempt: 2,
            body: ["attempt": 2, "candidate": 1, "summary": "build a"])
        try Publisher(bus: bus, worker: planner).publish(envelope)
        let holder = try WorkerID(role: role, host: Host.name, pid: 1, incarnation: "0123456789abcdef")
        let queue = try RoleQueue(bus: bus, role: role, worker: holder)
        let claim = try #require(try queue.claimNext())
        try queue.deadLetter(claim, reason: "holder \(holder) died (gone) at epoch 3, max_attempts 3")
        return envelope
    }

    /// The planner's pending envelopes.
    func pending(_ bus: Bus) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: bus.layout.new("planner")).sorted()
    }

    @Test("two scans, a scan by a second planner, and one after the notice was taken publish one notice")
    func exactlyOnce() throws {
        let temporary = try bus()
        let bus = temporary.bus
        let dead = try deadBuild(bus)
        let first = DeadLetterScan(bus: bus, worker: try WorkerID.current(role: "planner"))
        let id = DeadLetterNotice.noticeID(of: dead.id, role: "builder")
        #expect(try first.pass() == [id])
        #expect(try first.pass().isEmpty)
        let other = try WorkerID(role: "planner", host: Host.name, pid: 2, incarnation: "fedcba9876543210")
        #expect(try DeadLetterScan(bus: bus, worker: other).pass().isEmpty)
        #expect(try pending(bus) == [id + ".json"])

        // The planner takes the notice: it reads back as the dead letter's input.
        let planner = try RoleQueue(bus: bus, role: "planner", worker: try WorkerID.current(role: "planner"))
        let claim = try #require(try planner.claimNext())
        let notice = try #require(DeadLetterNotice(claim.envelope))
        #expect(notice.id == dead.id && notice.kind == "build" && notice.role == "builder")
        #expect(notice.task == "a" && notice.attempt == 2 && notice.candidate == 1)
        #expect(notice.reason.contains("max_attempts 3"))
        #expect(claim.envelope.run == "r1" && claim.envelope.causation == dead.id)
        try planner.ack(claim)
        // A planner started afresh finds its seen/ marker.
        #expect(try DeadLetterScan(bus: bus, worker: other).pass().isEmpty)
        #expect(try pending(bus).isEmpty)
    }

    @Test("a copy published all the same in a race is a duplicate: delivered once, and never noticed itself")
    func race() throws {
        let temporary = try bus()
        let bus = temporary.bus
        let dead = try deadBuild(bus)
        let planner = try WorkerID.current(role: "planner")
        let notice = DeadLetterNotice(dead: dead, role: "builder", file: "f", reason: "r")
        let queue = try RoleQueue(bus: bus, role: "planner", worker: planner)
        try Publisher(bus: bus, worker: planner).publish(notice.envelope(run: "r1", from: planner))
        try queue.ack(try #require(try queue.claimNext()))
        // Two planners raced past the check: the second copy arrives after the first was taken.
        try Publisher(bus: bus, worker: planner).publish(notice.envelope(run: "r1", from: planner))
        #expect(try queue.claimNext() == nil)
        let deadNotices = DeadLetters.items(layout: bus.layout, role: "planner")
        #expect(deadNotices.count == 1)
        #expect(deadNotices.first?.reason["reason"]?.stringValue?.hasPrefix("duplicate id") == true)
        #expect(try DeadLetterScan(bus: bus, worker: planner).pass().isEmpty)
    }

    @Test("dead letters of a finished run, of a run with no status yet, and of notices are left alone")
    func leftAlone() throws {
        let temporary = try bus()
        let bus = temporary.bus
        try status(bus, run: "done1", finished: true)
        _ = try deadBuild(bus, run: "done1")
        let later = try deadBuild(bus, run: "later1")
        // A notice the planner could not take is not noticed again.
        _ = try deadBuild(bus, kind: DeadLetterNotice.kind, to: "planner")
        let scan = DeadLetterScan(bus: bus, worker: try WorkerID.current(role: "planner"))
        #expect(try scan.pass().isEmpty)
        // The run's status appears (its goal taken): the letter is noticed then.
        try status(bus, run: "later1", finished: false)
        #expect(try scan.pass() == [DeadLetterNotice.noticeID(of: later.id, role: "builder")])
    }
}
