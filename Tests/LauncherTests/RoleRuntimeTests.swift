import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The role runtime in real processes: the testing role of `PlanbusTestWorker`, run without a
/// supervisor, signalled by the test.
@Suite("Role runtime", .serialized)
struct RoleRuntimeTests {
    /// Starts the testing role on `session`'s bus with `environment` added.
    func startRole(_ session: SessionFixture, role: String, environment: [String: String] = [:]) throws -> ChildProcess
    {
        var env = Foundation.ProcessInfo.processInfo.environment
        env["PLANBUS_BUS"] = session.bus.layout.root
        env["PLANBUS_ROLE"] = role
        env["PLANBUS_TEST_OUT"] = session.out
        for (k, v) in environment { env[k] = v }
        return try ChildProcess.spawn(
            [Executables.testWorker, "role"], environment: env, stdout: .file(session.root + "/role.log"),
            stderr: .file(session.root + "/role.log"))
    }

    @Test("a handler that throws nacks its envelope with the error recorded, and the role keeps serving")
    func handlerThrows() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let role = try startRole(session, role: "verifier")
        defer { role.send(SIGKILL) }
        let bad = try session.send(to: "verifier", body: ["action": "throw"])
        let good = try session.send(to: "verifier", body: ["action": "ok"])
        #expect(await eventually { session.isDone(good, role: "verifier") })
        #expect(
            await eventually {
                session.events(bad).contains {
                    $0.event == .nack && ($0.reason ?? "").contains("the envelope asked the handler to throw")
                }
            })
        // Still the same process: a throwing handler is not a crash.
        #expect(role.exitStatus == nil)
        #expect(session.outLines.contains { $0.hasPrefix("processed \(good) 1 \(role.pid)") })
    }

    @Test("a new incarnation is a new worker: a stop file naming the previous one does not stop it")
    func newIncarnation() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let first = try startRole(session, role: "verifier")
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("started verifier.") } })
        let old = try WorkerID(parsing: String(try #require(session.outLines.last?.split(separator: " ").last)))
        first.send(SIGKILL)
        _ = await first.wait(timeout: testProcessTimeout).exit
        try StopFiles(layout: session.bus.layout).requestStop(old.description)
        let second = try startRole(session, role: "verifier")
        defer { second.send(SIGKILL) }
        let id = try session.send(to: "verifier")
        #expect(await eventually { session.isDone(id, role: "verifier") })
        let ack = try #require(session.events(id).first { $0.event == .ack })
        let now = try WorkerID(parsing: ack.worker)
        #expect(now.pid == second.pid)
        #expect(now.incarnation != old.incarnation)
        #expect(second.exitStatus == nil)
    }

    @Test("SIGTERM: the role stops claiming, releases the envelope it cannot finish in its grace, and exits 0")
    func sigtermReleases() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let role = try startRole(session, role: "verifier", environment: ["PLANBUS_STOP_GRACE_MS": "300"])
        let id = try session.send(to: "verifier", body: ["action": "gate", "gate": .string(session.gates)])
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(id) 1 ") } })
        role.send(SIGTERM)
        #expect(await role.wait(timeout: testProcessTimeout).exit == .exited(0))
        let events = session.events(id)
        #expect(events.contains { $0.event == .release && ($0.reason ?? "").contains("did not finish within") })
        // Released, not lost: back in new/ for the next worker, and the heartbeat says stopped.
        let pending = try FileManager.default.contentsOfDirectory(atPath: session.bus.layout.new("verifier"))
        #expect(pending.contains { $0.hasPrefix(id) })
        let hb = try #require(
            SupervisorStateProbe.heartbeats(session.bus, role: "verifier").first { $0.worker.pid == role.pid })
        #expect(hb.state == .stopped)
    }

    @Test("SIGTERM: an envelope that finishes within the grace is acked before the role exits")
    func sigtermFinishes() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let role = try startRole(session, role: "verifier", environment: ["PLANBUS_STOP_GRACE_MS": "5000"])
        let id = try session.send(to: "verifier", body: ["action": "sleep", "ms": 600])
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(id) 1 ") } })
        role.send(SIGTERM)
        #expect(await role.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(session.isDone(id, role: "verifier"))
        #expect(!session.events(id).contains { $0.event == .release })
    }

    @Test("a handler past its envelope timeout is cancelled, its envelope retried, and its progress stops")
    func envelopeTimeout() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let role = try startRole(session, role: "verifier", environment: ["PLANBUS_ENVELOPE_TIMEOUT_MS": "300"])
        defer { role.send(SIGKILL) }
        let id = try session.send(to: "verifier", body: ["action": "hang"])
        #expect(
            await eventually {
                session.events(id).contains { $0.event == .nack && ($0.reason ?? "").contains("timed out after") }
            })
        // The hung call still holds a thread: the process reports no more progress, while its
        // heartbeat thread goes on, so a supervisor can tell it is stuck.
        func heartbeat() -> Heartbeat? {
            SupervisorStateProbe.heartbeats(session.bus, role: "verifier").first { $0.worker.pid == role.pid }
        }
        // Let a few writes pass, so the file holds the counter as frozen at the time-out.
        let before = try #require(heartbeat())
        #expect(await eventually { (heartbeat()?.seq ?? 0) > before.seq + 2 })
        let first = try #require(heartbeat())
        #expect(await eventually { (heartbeat()?.seq ?? 0) > first.seq + 5 })
        #expect(heartbeat()?.progress == first.progress)
    }
}

/// Reads heartbeats for assertions.
enum SupervisorStateProbe {
    static func heartbeats(_ bus: Bus, role: String) -> [Heartbeat] {
        let dir = bus.layout.heartbeats(role)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap { Heartbeat.read(path: dir + "/" + $0) }
    }
}
