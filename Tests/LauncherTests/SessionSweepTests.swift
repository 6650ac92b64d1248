import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A child in a session of its own that dies by SIGKILL leaves nothing running.
@Suite("Session sweep")
struct SessionSweepTests {
    @Test("a SIGKILLed session leader's grandchild in another process group of its session is killed when it is reaped")
    func grandchildKilled() async throws {
        let folder = FileManager.default.temporaryDirectory.path + "/planbus-sweep-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The grandchild moves to a process group of its own, as a role's git does with its helpers.
        let grandchildCommand = "perl -e 'setpgrp(0, 0); exec(\"sleep\", \"120\")'"
        let child = try ChildProcess.spawn(
            ["/bin/sh", "-c", "\(grandchildCommand) & echo $! > \(folder)/pid; wait"], stdout: .null, stderr: .null,
            newSession: true, killsGroupOnExit: true)
        var grandchild: Int32?
        #expect(
            await eventually {
                grandchild = lines(of: folder + "/pid").first.flatMap { Int32($0) }
                return grandchild != nil
            })
        let pid = try #require(grandchild)
        #expect(await eventually { getpgid(pid) == pid }, "the grandchild is in a process group of its own")
        child.send(SIGKILL)
        _ = await child.wait(timeout: testProcessTimeout)
        #expect(await eventually { Self.isGone(pid) }, "the grandchild \(pid) still runs")
    }

    /// True when `pid` is gone or a zombie (an orphan waits for its new parent to reap it).
    static func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}
