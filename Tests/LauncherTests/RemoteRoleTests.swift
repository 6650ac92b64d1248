import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Roles started by hand under another host name, in poll mode, next to launched ones: what a
/// role on another machine sharing the bus over NFS or sshfs does.
@Suite("Roles on another host", .serialized)
struct RemoteRoleTests {
    func environment(_ session: SessionFixture) -> [String: String] {
        var env = Foundation.ProcessInfo.processInfo.environment
        env["PLANBUS_WAKE"] = "poll"
        env["PLANBUS_BUS"] = session.bus.layout.root
        return env
    }

    @Test("planbus role --host other in poll mode serves its queue, dead-letters unknown kinds, and stops on SIGTERM")
    func handStartedProductRole() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let role = try ChildProcess.spawn(
            [Executables.planbus, "role", "judge", "--host", "other", "--bus", session.bus.layout.root],
            environment: environment(session), stdout: .file(session.root + "/judge.log"),
            stderr: .file(session.root + "/judge.log"))
        let ping = try session.send(to: "judge", kind: "ping")
        let odd = try session.send(to: "judge", kind: "nonsense")
        #expect(await eventually { session.isDone(ping, role: "judge") })
        let ack = try #require(session.events(ping).first { $0.event == .ack })
        #expect(try WorkerID(parsing: ack.worker).host == "other")
        #expect(try WorkerID(parsing: ack.worker).pid == role.pid)
        #expect(
            await eventually {
                session.events(odd).contains {
                    $0.event == .dead && ($0.reason ?? "").contains("does not handle kind \"nonsense\"")
                }
            })
        #expect(lines(of: session.root + "/judge.log").contains { $0.contains("wake=poll") })
        role.send(SIGTERM)
        #expect(await role.wait(timeout: testProcessTimeout).exit == .exited(0))
    }

    @Test("a role on another host shares the work; killed, its claims are taken over on heartbeats alone")
    func sharesAndIsTakenOver() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let remote = try ChildProcess.spawn(
            [Executables.testWorker, "role", "--role", "verifier", "--host", "other", "--out", session.out],
            environment: environment(session), stdout: .file(session.root + "/remote.log"),
            stderr: .file(session.root + "/remote.log"))
        defer { remote.send(SIGKILL) }
        let up = try session.up()
        #expect(await eventually { session.runningPid("verifier") != nil })
        let local = try #require(session.runningPid("verifier"))
        let tasks = try (0..<12).map { _ in try session.send(to: "verifier", body: ["action": "sleep", "ms": 100]) }
        #expect(await eventually { tasks.allSatisfy { session.isDone($0, role: "verifier") } })
        let processors = Set(
            session.outLines.filter { line in tasks.contains { line.hasPrefix("processed \($0) ") } }
                .compactMap { $0.split(separator: " ").last.flatMap { Int32($0) } })
        // Both the launched instance and the one on "another host" did some of the work.
        #expect(processors == [local, remote.pid])

        // Two gated envelopes: each worker holds one (a worker holds one envelope at a time).
        let first = try session.send(to: "verifier", body: ["action": "gate", "gate": .string(session.gates)])
        let second = try session.send(to: "verifier", body: ["action": "gate", "gate": .string(session.gates)])
        #expect(
            await eventually {
                session.outLines.contains { $0.hasPrefix("claimed \(first) 1 ") }
                    && session.outLines.contains { $0.hasPrefix("claimed \(second) 1 ") }
            })
        let gated = session.outLines.contains("claimed \(first) 1 \(remote.pid)") ? first : second
        #expect(session.outLines.contains("claimed \(gated) 1 \(remote.pid)"))
        // The heartbeat lists the claim within its flush interval.
        var listed = false
        for _ in 0..<50 where !listed {
            let ps = try await session.planbus("ps", "--json")
            let workers = try JSONValue.parse(ps.stdout)["workers"]?.arrayValue ?? []
            listed = workers.contains {
                $0["host"] == "other" && $0["mark"] == .null && $0["envelope"] == .string(gated)
            }
        }
        #expect(listed)

        remote.send(SIGKILL)
        _ = await remote.wait(timeout: testProcessTimeout).exit
        session.openGate(first)
        session.openGate(second)
        #expect(
            await eventually { session.isDone(first, role: "verifier") && session.isDone(second, role: "verifier") })
        let events = session.events(gated)
        // Judged by its heartbeat alone: the pid is never looked at for a host of another name.
        let expire = try #require(events.first { $0.event == .expire && $0.epoch == 1 })
        #expect((expire.reason ?? "").contains("heartbeat unchanged for"))
        let ack = try #require(events.first { $0.event == .ack })
        #expect(ack.epoch == 2)
        #expect(try WorkerID(parsing: ack.worker).pid == local)
        let after = try await session.planbus("ps", "--json")
        let rows = try JSONValue.parse(after.stdout)["workers"]?.arrayValue ?? []
        #expect(rows.contains { $0["host"] == "other" && $0["mark"] == "stale" })
        up.send(SIGTERM)
        _ = await up.wait(timeout: testProcessTimeout).exit
    }
}
