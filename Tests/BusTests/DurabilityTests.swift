import Bus
import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// strace, which the suite needs to see the system calls of the processes it starts.
private let straceProgram = ["/usr/bin/strace", "/bin/strace"].first { (path: String) in access(path, X_OK) == 0 }

/// What a durable bus fsyncs (PROTOCOL 7.10, 7.11), seen from outside: real worker processes run
/// under `strace`, which records every `fsync` and `fdatasync` with the path of its descriptor.
///
/// A publish fsyncs the envelope's staging file and `new/`; a claim `cur/` and `new/`; an ack
/// `done/<day>/`, and when it has results also `cur/`, before any result is published. Nothing
/// else of the queue: not `cur/` after an ack without results, nor the duplicate marker's `seen/`.
@Suite("Durable mode: what is fsynced", .enabled(if: straceProgram != nil, "needs strace (Debian package strace)"))
struct DurabilityTests {

    /// One traced `fsync`/`fdatasync`: the traced process and the path of the descriptor.
    struct Sync: Equatable {
        var pid: String
        var path: String
    }

    /// The syncs recorded in an `strace -f -y -o FILE` log (`PID fsync(FD</path>) = 0`).
    static func syncs(in log: String) -> [Sync] {
        lines(of: log).compactMap { line in
            // strace pads the pid column: "PID  fsync(…" as well as "PID fsync(…".
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let call = parts[1].drop { $0 == " " }
            guard call.hasPrefix("fsync(") || call.hasPrefix("fdatasync("),
                let open = call.firstIndex(of: "<"), let close = call[open...].firstIndex(of: ">")
            else { return nil }
            return Sync(pid: String(parts[0]), path: String(call[call.index(after: open)..<close]))
        }
    }

    /// `command` run under strace, writing its log to `log`.
    static func traced(_ command: [String], log: String) -> [String] {
        [straceProgram!, "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-e", "signal=none", "-o", log] + command
    }

    @Test("a durable delivery fsyncs each claim, each commit, and a commit's claim before its results are published")
    func durableDelivery() async throws {
        var settings = BusSettings.testing
        settings.durable = true
        let bus = try TemporaryBus(settings: settings, roles: ["first", "second"])
        let root = try #require(
            realpath(bus.path, nil).map { p in
                defer { free(p) }
                return String(cString: p)
            })
        let q = root + "/q/"

        // Three envelopes published by a real process.
        let publishLog = bus.root + "/publish.strace"
        let published = try await runCommand(
            Self.traced(
                [
                    Executables.testWorker, "publish", "--bus", bus.path, "--role", "first", "--run", "durable",
                    "--count", "3", "--durable",
                ], log: publishLog))
        #expect(published.code == 0, "\(published.stderr)")
        let publishSyncs = Self.syncs(in: publishLog)
        #expect(publishSyncs.filter { $0.path == q + "first/new" }.count == 3, "\(publishSyncs)")
        #expect(publishSyncs.filter { $0.path.hasPrefix(root + "/tmp/") }.count == 3, "\(publishSyncs)")

        // "first" acks each with a result to "second"; "second" acks without results.
        func worker(_ role: String, emit: String?) throws -> (ChildProcess, out: String, log: String) {
            let out = bus.root + "/\(role).out"
            let log = bus.root + "/\(role).strace"
            var args = [Executables.testWorker, "work", "--bus", bus.path, "--role", role, "--out", out]
            if let emit { args += ["--emit", emit] }
            let child = try ChildProcess.spawn(
                Self.traced(args, log: log), stdout: .file(out + ".log"), stderr: .file(out + ".log"))
            return (child, out, log)
        }
        let first = try worker("first", emit: "second")
        let second = try worker("second", emit: nil)
        defer {
            first.0.sendToGroup(SIGKILL)
            second.0.sendToGroup(SIGKILL)
        }
        func processed(_ out: String) -> Int { lines(of: out).filter { $0.hasPrefix("processed ") }.count }
        #expect(await eventually { processed(second.out) == 3 }, "second processed \(processed(second.out))")
        #expect(processed(first.out) == 3)
        try StopFiles(layout: bus.bus.layout).requestStop()
        for child in [first.0, second.0] {
            let exit = await child.wait(timeout: testProcessTimeout).exit
            #expect(exit == .exited(0), "a traced worker did not stop: \(String(describing: exit))")
        }

        let firstSyncs = Self.syncs(in: first.log)
        let secondSyncs = Self.syncs(in: second.log)
        // Per envelope: the claim syncs cur/ and new/, the commit done/<day>/; an ack with results
        // (those of "first") also cur/. A janitor pass that finds a commit whose results are not
        // out yet (the ack is between its commit and its publish) syncs done/<day>/ and cur/ once
        // more, so these are floors. Nothing else of the queue is synced but done/ once, when the
        // day's folder is made.
        let expected = [("first", 6, 3, 3), ("second", 3, 3, 3)]
        for ((role, syncs), want) in zip([("first", firstSyncs), ("second", secondSyncs)], expected) {
            let paths = syncs.map(\.path).filter { $0.hasPrefix(q + role + "/") }
            func count(_ path: String) -> Int { paths.filter { $0 == path }.count }
            let days = paths.filter { $0.hasPrefix(q + role + "/done/") }
            #expect(count(q + role + "/cur") >= want.1, "\(role): \(paths)")
            #expect(count(q + role + "/new") == want.2, "\(role): \(paths)")
            #expect(days.count >= want.3, "\(role): \(paths)")
            #expect(count(q + role + "/cur") - want.1 == days.count - want.3, "\(role): \(paths)")
            #expect(count(q + role + "/done") <= 1, "\(role): \(paths)")
            let others = paths.filter {
                ![q + role + "/cur", q + role + "/new", q + role + "/done"].contains($0) && !days.contains($0)
            }
            #expect(others.isEmpty, "\(role) synced \(others)")
        }
        // The results are published durably, each fsyncing "second"'s new/, and only after the
        // commit of the envelope that made it (done/<day>/) and then its removal from cur/ were
        // fsynced.
        let firstPaths = firstSyncs.map(\.path)
        #expect(firstPaths.filter { $0 == q + "second/new" }.count == 3, "\(firstPaths)")
        var committing = 0
        var committed = 0
        var results = 0
        for path in firstPaths {
            if path.hasPrefix(q + "first/done/") { committing += 1 }
            if path == q + "first/cur", committing > 0 {
                committing -= 1
                committed += 1
            }
            if path == q + "second/new" {
                results += 1
                #expect(results <= committed, "a result was published before its commit was durable: \(firstPaths)")
            }
        }
        // Every envelope is committed: three in each queue's done/.
        let doneFirst = try FileManager.default.subpathsOfDirectory(atPath: q + "first/done").filter {
            $0.hasSuffix(".json")
        }
        let doneSecond = try FileManager.default.subpathsOfDirectory(atPath: q + "second/done").filter {
            $0.hasSuffix(".json")
        }
        #expect(doneFirst.count == 3 && doneSecond.count == 3, "\(doneFirst) \(doneSecond)")
    }
}
