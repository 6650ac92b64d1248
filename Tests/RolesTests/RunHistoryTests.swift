import Bus
import BusTesting
import Foundation
import Testing

@testable import Roles

/// The order in which the planner reads back the inputs it acked.
@Suite("Run history")
struct RunHistoryTests {
    /// Publishes a `documented` envelope of run `r1` to the planner, and claims and acks it as `worker`.
    func ack(on bus: Bus, as worker: WorkerID) throws -> String {
        let envelope = Envelope(run: "r1", kind: RunMessages.documented, from: worker, to: "planner", body: [:])
        try Publisher(bus: bus, worker: worker).publish(envelope)
        let queue = try RoleQueue(bus: bus, role: "planner", worker: worker)
        let claim = try #require(try queue.claimNext())
        #expect(claim.envelope.id == envelope.id)
        try queue.ack(claim)
        return envelope.id
    }

    /// A bus where a planner acked one input, then a planner `killed` acked a second one
    /// (`unlisted`), whose journal lines the tests then take away.
    func killedAfterAck() throws -> (
        temporary: TemporaryBus, planner: WorkerID, killed: WorkerID, first: String, unlisted: String
    ) {
        let temporary = try TemporaryBus(roles: ["planner"])
        let planner = try WorkerID.current(role: "planner")
        let killed = try WorkerID(role: "planner", host: planner.host, pid: 1, incarnation: "0123456789abcdef")
        let first = try ack(on: temporary.bus, as: planner)
        let unlisted = try ack(on: temporary.bus, as: killed)
        return (temporary, planner, killed, first, unlisted)
    }

    @Test("an input acked without its journal line keeps its place as later inputs are acked, so the fold can resume")
    func unlistedInputKeepsItsPlace() throws {
        let (temporary, planner, killed, first, unlisted) = try killedAfterAck()
        let bus = temporary.bus
        // A planner killed between its ack's rename and its journal lines: the envelope is in
        // done/, and no journal line lists it.
        try FileManager.default.removeItem(atPath: bus.layout.journal("r1") + "/\(killed).jsonl")

        let memory = RunHistory.Memory()
        let history = RunHistory(layout: bus.layout, run: "r1", memory: memory)
        #expect(history.inputs().map(\.id) == [first, unlisted])
        let later = try ack(on: bus, as: planner)
        let again = try ack(on: bus, as: planner)
        // The order read before is still a prefix of the order read now.
        #expect(history.inputs().map(\.id) == [first, unlisted, later, again])
        // With no line at all, a process that starts now can only read it after every listed one.
        #expect(
            RunHistory(layout: bus.layout, run: "r1", memory: RunHistory.Memory()).inputs().map(\.id) == [
                first, later, again, unlisted,
            ])
    }

    @Test("an input whose ack line is missing takes the place of its claim line, for every planner process")
    func missingAckLineTakesItsClaimsPlace() throws {
        let (temporary, planner, killed, first, unlisted) = try killedAfterAck()
        let bus = temporary.bus
        // Killed between the ack's rename and its line: its claim line is there, its ack line is not.
        let file = bus.layout.journal("r1") + "/\(killed).jsonl"
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let kept = lines.filter { !$0.contains("\"ev\":\"ack\"") }
        #expect(kept.count == lines.count - 1 && kept.contains { $0.contains("\"ev\":\"claim\"") })
        try (kept.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)

        let history = RunHistory(layout: bus.layout, run: "r1", memory: RunHistory.Memory())
        #expect(history.inputs().map(\.id) == [first, unlisted])
        let later = try ack(on: bus, as: planner)
        let again = try ack(on: bus, as: planner)
        #expect(history.inputs().map(\.id) == [first, unlisted, later, again])
        // A planner started after the later acks reads the same order: the claim line places it.
        #expect(
            RunHistory(layout: bus.layout, run: "r1", memory: RunHistory.Memory()).inputs().map(\.id) == [
                first, unlisted, later, again,
            ])
    }
}
