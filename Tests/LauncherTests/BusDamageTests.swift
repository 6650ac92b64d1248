import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The bus folder damaged under `planbus up` while roles serve: deleted, or made read-only.
@Suite("Bus damage", .serialized)
struct BusDamageTests {
    /// How many times `up.log` says an instance started.
    func starts(_ session: SessionFixture) -> Int {
        lines(of: session.root + "/up.log").filter { $0.contains(" started, pid ") }.count
    }

    @Test("rm -rf of the bus under planbus up: every role stops, and the supervisor exits 4 saying what to do")
    func busDeleted() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("work", instances: 2))
        let up = try session.up()
        defer { up.send(SIGKILL) }
        #expect(
            await eventually(timeout: .seconds(30)) {
                session.runningPid("work") != nil && session.runningPid("work", instance: 1) != nil
            })
        let roles = [session.runningPid("work"), session.runningPid("work", instance: 1)].compactMap { $0 }
        let started = starts(session)
        let id = try session.send(to: "work")
        #expect(await eventually { session.isDone(id, role: "work") })

        try FileManager.default.removeItem(atPath: session.root + "/bus")
        let outcome = await up.wait(timeout: testProcessTimeout)
        let log = lines(of: session.root + "/up.log").joined(separator: "\n")
        #expect(outcome.exit == .exited(4), "\(log)")
        #expect(log.contains("the bus folder \(session.root)/bus is gone"), "\(log)")
        #expect(log.contains("planbus init"))
        #expect(starts(session) == started, "nothing was re-spawned: \(log)")
        #expect(roles.count == 2 && roles.allSatisfy { !isLive($0) }, "every role process ended")
        #expect(!FileManager.default.fileExists(atPath: session.root + "/bus/VERSION"))
    }

    // A read-only bind mount needs mount rights (root with CAP_SYS_ADMIN): root ignores
    // permission bits, so chmod cannot make the bus read-only for it.
    @Test(
        "a read-only bus under planbus up: the supervisor says so, neither spins nor re-spawns, and work resumes after a remount",
        .enabled(if: TestMount.isPermitted, "mounting is not permitted here"))
    func busReadOnly() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("work"))
        let path = session.root + "/bus"
        let up = try session.up()
        defer { up.send(SIGKILL) }
        #expect(await eventually(timeout: .seconds(30)) { session.runningPid("work") != nil })
        let pid = try #require(session.runningPid("work"))
        let first = try session.send(to: "work")
        #expect(await eventually { session.isDone(first, role: "work") })
        let started = starts(session)

        try TestMount.bindReadOnly(path)
        var mounted = true
        defer { if mounted { TestMount.unmount(path) } }
        let log = session.root + "/up.log"
        #expect(
            await eventually {
                lines(of: log).contains {
                    $0.contains("the bus's filesystem is read-only (\(path))") && $0.contains("remount")
                }
            })
        let send = try await session.planbus("send", "--to", "work", "--kind", "task")
        #expect(send.code == 4, "\(send.stderr)")
        #expect(send.stderr.contains("read-only"), "\(send.stderr)")

        // A window of many lease lengths (1 s): the role would have been judged hung, and its
        // re-spawns would have failed until the role was marked failed.
        let cpuBefore = try #require(processCPUTicks(up.pid))
        let window = ContinuousClock.now
        let disturbed = await eventually(timeout: .seconds(15)) {
            !isLive(pid) || starts(session) != started
                || lines(of: log).contains { $0.contains(": hung") || $0.contains("FAILED") }
        }
        let elapsed = ContinuousClock.now - window
        #expect(!disturbed, "\(lines(of: log).suffix(10))")
        let cpu = try #require(processCPUTicks(up.pid)) - cpuBefore
        let windowTicks = Double(elapsed.components.seconds) * Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(Double(cpu) < windowTicks * 0.25, "supervisor CPU \(cpu) ticks in \(elapsed)")
        #expect(up.exitStatus == nil, "the supervisor is still up")

        try TestMount.remountWritable(path)
        TestMount.unmount(path)
        mounted = false
        #expect(await eventually { lines(of: log).contains { $0.contains("the bus takes writes again") } })
        let second = try session.send(to: "work")
        #expect(await eventually { session.isDone(second, role: "work") })
        #expect(session.outLines.contains { $0.hasPrefix("processed \(second) 1 \(pid)") }, "the same role process")
        #expect(starts(session) == started)
        up.send(SIGTERM)
        #expect(await up.wait(timeout: testProcessTimeout).exit == .exited(0))
    }
}
