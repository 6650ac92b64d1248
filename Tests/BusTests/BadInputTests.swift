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

/// A matrix of bad files dropped into a queue: each is dead-lettered with a reason (or ignored,
/// for dot-files), and the good envelopes around it are still delivered, once each.
///
/// A reader that opened a FIFO for reading without `O_NONBLOCK` would hang. The suite has a time
/// limit, but a thread stuck in `open(2)` cannot be cancelled, and two of them starve the
/// cooperative pool on a small machine (so the limit never fires); the queue is therefore drained
/// on a thread of its own, and a watchdog that sees it stuck opens the FIFOs' write ends, which
/// releases the reader and fails the test instead of hanging the run.
@Suite("Bad input in a queue", .timeLimit(.minutes(1)))
struct BadInputTests {
    /// One kind of bad file.
    enum BadInput: String, CaseIterable, Sendable {
        case invalidJSON, truncatedJSON, wrongVersion, stringVersion, missingVersion, missingKind, missingBody
        case missingID, nullID, illTypedAttempt, negativeAttempt, illTypedRun, illTypedFrom, illTypedPid
        case oversize, deepNesting, binary, invalidUTF8, duplicateKey, trailingGarbage, topLevelArray, emptyFile
        case dotFile, directory, fifo, symlinkOutside, danglingSymlink
        case dotDotID, dotDotRun, dotDotTask, dotDotCausation, dotDotFromRole, dotDotFromHost
        case duplicateID, wrongRole, nameMismatch, unknownField, junkName, junkJSONName
        case createdNotUTC, createdNoZone, createdSpace, bodyNotObject, bodyString
    }

    enum Expected: Equatable {
        /// Dead-lettered, with a reason containing this text.
        case dead(String)
        /// Left alone in `new/`.
        case ignored
    }

    static func expected(_ input: BadInput) -> Expected {
        switch input {
        case .invalidJSON, .truncatedJSON, .binary: return .dead("invalid JSON")
        case .wrongVersion: return .dead("protocol version 2 is not supported")
        case .stringVersion: return .dead("protocol version \"1\" is not supported")
        case .missingVersion: return .dead("missing field \"v\"")
        case .missingKind: return .dead("missing field \"kind\"")
        case .missingBody: return .dead("missing field \"body\"")
        case .missingID: return .dead("missing field \"id\"")
        case .nullID: return .dead("field \"id\" must be a string")
        case .illTypedAttempt: return .dead("field \"attempt\" must be an integer")
        case .negativeAttempt: return .dead("attempt must be an integer from 0")
        case .illTypedRun: return .dead("field \"run\" must be a string")
        case .illTypedFrom: return .dead("from must be an object")
        case .illTypedPid: return .dead("from.pid is missing or not a positive integer")
        case .oversize: return .dead("over the 1048576-byte limit")
        case .deepNesting: return .dead("nesting deeper than 32 levels")
        case .invalidUTF8: return .dead("invalid UTF-8")
        case .duplicateKey: return .dead("duplicate key \"v\"")
        case .trailingGarbage: return .dead("unexpected data after the JSON value")
        case .topLevelArray: return .dead("an envelope must be a JSON object")
        case .emptyFile: return .dead("empty file")
        case .dotFile: return .ignored
        case .directory: return .dead("not a regular file (directory)")
        case .fifo: return .dead("not a regular file (FIFO)")
        case .symlinkOutside, .danglingSymlink: return .dead("not a regular file (symlink)")
        case .dotDotID: return .dead("must be 13 digits of Unix ms")
        case .dotDotRun: return .dead("run \"../../escape\" must use [A-Za-z0-9._-]")
        case .dotDotTask: return .dead("task \"../escape\" must use [A-Za-z0-9._-]")
        case .dotDotCausation: return .dead("causation \"../../1795316645678-x\" is not an envelope id")
        case .dotDotFromRole: return .dead("from.role \"../planner\" must match")
        case .dotDotFromHost: return .dead("from.host \"../host\" must match")
        case .duplicateID: return .dead("duplicate id")
        case .wrongRole: return .dead("addressed to \"other\" but found in the \"work\" queue")
        case .nameMismatch: return .dead("file name says id")
        case .unknownField: return .dead("unknown field \"extra\"")
        case .junkName, .junkJSONName: return .dead("file name is not <id>.json")
        case .createdNotUTC, .createdNoZone, .createdSpace: return .dead("field \"created\" must be RFC 3339 UTC")
        case .bodyNotObject, .bodyString: return .dead("field \"body\" must be an object")
        }
    }

    // MARK: - Fixture

    final class Fixture: Sendable {
        let temp: TemporaryBus
        let sender: WorkerID
        let publisher: Publisher
        let queue: RoleQueue

        init() throws {
            temp = try TemporaryBus(settings: .testing, roles: ["work"])
            sender = try WorkerID.current(role: "sender")
            publisher = Publisher(bus: temp.bus, worker: sender)
            queue = try RoleQueue(bus: temp.bus, role: "work", worker: try WorkerID.current(role: "work"))
        }

        var layout: BusLayout { temp.bus.layout }
        /// A folder outside the bus (the bus is `root/bus`).
        var outside: String { temp.root }

        func names(_ dir: String) -> [String] {
            ((try? FileOps.list(dir)) ?? []).sorted()
        }

        /// Publishes a good envelope whose id carries the time `ms`, so it sorts where the test wants.
        func publishGood(atMs ms: Int64) throws -> Envelope {
            let e = Envelope(
                id: EnvelopeID.make(at: Timestamp(milliseconds: ms)), run: "bad-input", kind: "task", from: sender,
                to: "work", body: ["good": true])
            try publisher.publish(e)
            return e
        }

        /// A valid envelope as a JSON object, to be spoilt by hand.
        func object(id: String) -> [String: JSONValue] {
            [
                "v": 1, "id": .string(id), "run": "bad-input", "kind": "task", "from": sender.json, "to": "work",
                "causation": nil, "attempt": 1, "created": .string(Timestamp.now().description),
                "body": ["good": false],
            ]
        }

        func write(_ bytes: [UInt8], to path: String) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            try #require(fd >= 0, "cannot create \(path): errno \(errno)")
            try FileOps.writeAll(fd, bytes, path: path)
            try FileOps.closeChecked(fd, path: path)
        }

        func read(_ path: String) -> [UInt8]? {
            if case .bytes(let b) = FileOps.readRegular(path, limit: 4 << 20) { return b }
            return nil
        }

        /// Drains the queue off the cooperative pool; if the reader blocks (on a FIFO), records an
        /// issue, unblocks it by opening the write end of every FIFO in the queue and in `extra`, and
        /// returns what it delivered.
        func guardedDrain(unblocking extra: [String] = []) async throws -> [String] {
            let outcome = Outcome()
            try BadInputTests.startThread {
                let result = Result { try self.drain() }
                outcome.value.withLock { $0 = result }
            }
            let finished = { outcome.value.withLock { $0 != nil } }
            if await !eventually(interval: .milliseconds(5), finished) {
                Issue.record("the reader blocked: it opened a FIFO (or another special file) for reading")
                let dirs = [layout.new("work"), layout.cur("work"), layout.dead("work")]
                let fifos = dirs.flatMap { dir in names(dir).map { dir + "/" + $0 } } + extra
                let released = await eventually(interval: .milliseconds(5)) {
                    for path in fifos where BadInputTests.fileType(path) == S_IFIFO {
                        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                        if fd >= 0 { close(fd) }
                    }
                    return finished()
                }
                try #require(released, "the reader stays blocked")
            }
            return try outcome.value.withLock { $0! }.get()
        }

        /// Drains the queue as a worker would, acking every envelope it gets; the ids, in claim order.
        func drain() throws -> [String] {
            var delivered: [String] = []
            for _ in 0..<100 {
                guard let claim = try queue.claimNext() else { break }
                delivered.append(claim.envelope.id)
                try queue.ack(claim)
            }
            return delivered
        }
    }

    /// The result of a drain run on its own thread.
    final class Outcome: Sendable {
        let value = Mutex<Result<[String], any Error>?>(nil)
    }

    final class ThreadBody: @unchecked Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Runs `body` on a new detached thread, outside Swift's cooperative pool.
    static func startThread(_ body: @escaping @Sendable () -> Void) throws {
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, context)
        if rc != 0 {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            throw BusError(.io, "cannot start a thread", errno: rc)
        }
        pthread_detach(thread)
    }

    /// Polls `condition` every few milliseconds until it holds or `timeout` passes.
    static func bytes(_ o: [String: JSONValue]) -> [UInt8] {
        Array((JSONValue.object(o).serialized() + "\n").utf8)
    }

    static func fileType(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes the bad file for `input` into `new/`; returns its name and the ids already delivered
    /// while setting it up.
    static func plant(_ input: BadInput, in f: Fixture, ms: Int64) throws -> (name: String, preDelivered: [String]) {
        let index = BadInput.allCases.firstIndex(of: input)!
        let id = "\(ms)-case-\(index)"
        let newDir = f.layout.new("work")
        var name = id + ".json"
        var o = f.object(id: id)
        var raw: [UInt8]?
        var preDelivered: [String] = []
        switch input {
        case .invalidJSON: raw = Array("{\"v\":1,\"id\":\"\(id)\",\"run\":,}".utf8)
        case .truncatedJSON: raw = Array(bytes(o).prefix(40))
        case .wrongVersion: o["v"] = 2
        case .stringVersion: o["v"] = "1"
        case .missingVersion: o.removeValue(forKey: "v")
        case .missingKind: o.removeValue(forKey: "kind")
        case .missingBody: o.removeValue(forKey: "body")
        case .missingID: o.removeValue(forKey: "id")
        case .nullID: o["id"] = .null
        case .illTypedAttempt: o["attempt"] = "one"
        case .negativeAttempt: o["attempt"] = -1
        case .illTypedRun: o["run"] = 5
        case .illTypedFrom: o["from"] = .string(f.sender.description)
        case .illTypedPid:
            var from = f.sender.json.objectValue!
            from["pid"] = .string(String(f.sender.pid))
            o["from"] = .object(from)
        case .oversize: o["body"] = ["pad": .string(String(repeating: "x", count: 1 << 20))]
        case .deepNesting:
            raw = Array(("{\"v\":1,\"id\":\"\(id)\",\"body\":" + String(repeating: "[", count: 10_000)).utf8)
        case .binary:
            // An ELF header, NULs and bytes that are not UTF-8.
            raw =
                [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00] + (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        case .invalidUTF8: raw = Array("{\"v\":1,\"id\":\"".utf8) + [0xC3, 0x28, 0xFF] + Array("\"}".utf8)
        case .duplicateKey: raw = Array("{\"v\":1,\"v\":1,\"id\":\"\(id)\"}".utf8)
        case .trailingGarbage: raw = bytes(o) + Array("{}".utf8)
        case .topLevelArray: raw = Array("[1,2,3]\n".utf8)
        case .emptyFile: raw = []
        case .dotFile: name = "." + id + ".json"
        case .directory:
            try FileOps.makeDirectories(newDir + "/" + name, mode: 0o700)
            try f.write(bytes(o), to: newDir + "/" + name + "/inside.json")
            return (name, [])
        case .fifo:
            try #require(mkfifo(newDir + "/" + name, 0o600) == 0, "mkfifo: errno \(errno)")
            return (name, [])
        case .symlinkOutside:
            let target = f.outside + "/outside-\(index).json"
            try f.write(bytes(o), to: target)
            try #require(symlink(target, newDir + "/" + name) == 0)
            return (name, [])
        case .danglingSymlink:
            try #require(symlink(f.outside + "/nothing-here-\(index).json", newDir + "/" + name) == 0)
            return (name, [])
        case .dotDotID: o["id"] = .string("\(ms)-../../etc/passwd")
        case .dotDotRun: o["run"] = "../../escape"
        case .dotDotTask: o["task"] = "../escape"
        case .dotDotCausation: o["causation"] = "../../1795316645678-x"
        case .dotDotFromRole:
            var from = f.sender.json.objectValue!
            from["role"] = "../planner"
            o["from"] = .object(from)
        case .dotDotFromHost:
            var from = f.sender.json.objectValue!
            from["host"] = "../host"
            o["from"] = .object(from)
        case .duplicateID:
            // The same envelope twice: the first is delivered (and acked), the copy is not.
            let original = try f.publishGood(atMs: ms)
            guard case .claimed(let claim) = try f.queue.claim(original.id + ".json") else {
                throw BusError(.notFound, "the original of the duplicate was not claimed")
            }
            #expect(claim.envelope == original)
            try f.queue.ack(claim)
            preDelivered = [original.id]
            name = original.id + ".json"
            raw = try original.encoded()
        case .wrongRole: o["to"] = "other"
        case .nameMismatch: o["id"] = .string(EnvelopeID.make(at: Timestamp(milliseconds: ms)))
        case .unknownField: o["extra"] = 1
        case .junkName: name = "hello world.txt"
        case .junkJSONName: name = "not-an-id.json"
        case .createdNotUTC: o["created"] = "2026-11-22T03:04:05+01:00"
        case .createdNoZone: o["created"] = "2026-11-22T03:04:05.678"
        case .createdSpace: o["created"] = "2026-11-22 03:04:05.678Z"
        case .bodyNotObject: o["body"] = [1, 2, 3]
        case .bodyString: o["body"] = "just text"
        }
        try f.write(raw ?? bytes(o), to: newDir + "/" + name)
        return (name, preDelivered)
    }

    // MARK: - The matrix

    @Test(
        "a bad file is dead-lettered with its reason (dot-files ignored), and the good ones around it are delivered once",
        arguments: BadInput.allCases)
    func badInput(_ input: BadInput) async throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let now = Timestamp.now().milliseconds
        // Good envelopes whose names sort before a name-valid bad file, and after it.
        let before = [try f.publishGood(atMs: now - 20_000), try f.publishGood(atMs: now - 10_000)]
        let (name, preDelivered) = try Self.plant(input, in: f, ms: now)
        let after = [try f.publishGood(atMs: now + 10_000), try f.publishGood(atMs: now + 20_000)]
        let good = before + after
        // Only regular files are read back (reading a FIFO here could block the test itself).
        let plantedPath = f.layout.new("work") + "/" + name
        let planted = Self.fileType(plantedPath) == S_IFREG ? f.read(plantedPath) : nil

        let delivered = try await f.guardedDrain()

        // Every good envelope was delivered exactly once, in order, and is in done/.
        #expect(delivered == good.map(\.id))
        for id in good.map(\.id) + preDelivered {
            let done = f.layout.done("work", day: QueueNames.day(of: id)) + "/" + QueueNames.settled(id: id, epoch: 1)
            #expect(FileOps.exists(done), "\(id) is not in done/")
        }
        #expect(f.names(f.layout.cur("work")) == [], "nothing is left claimed")
        #expect(f.names(f.layout.retry("work")) == [])

        switch Self.expected(input) {
        case .ignored:
            #expect(f.names(f.layout.new("work")) == [name], "the dot-file stays where it is")
            #expect(f.read(f.layout.new("work") + "/" + name) == planted, "and is not changed")
            #expect(try f.queue.claim(name) == .ignored)
            #expect(f.names(f.layout.dead("work")) == [])
        case .dead(let cause):
            #expect(f.names(f.layout.new("work")) == [], "nothing is left waiting")
            let items = DeadLetters.items(layout: f.layout, role: "work")
            try #require(items.count == 1, "dead/ holds \(f.names(f.layout.dead("work")))")
            let item = items[0]
            #expect(FileOps.exists(f.layout.dead("work") + "/" + item.file + ".reason.json"))
            let reason = try #require(item.reason["reason"]?.stringValue, "no reason recorded for \(item.file)")
            #expect(reason.contains(cause), "reason \"\(reason)\" does not mention \"\(cause)\"")
            #expect(item.reason["role"] == "work")
            #expect(item.reason["worker"] == .string(f.queue.worker.description))
            let deadPath = f.layout.dead("work") + "/" + item.file
            switch input {
            case .fifo: #expect(Self.fileType(deadPath) == S_IFIFO, "the FIFO itself is moved")
            case .directory: #expect(Self.fileType(deadPath) == S_IFDIR)
            case .symlinkOutside, .danglingSymlink:
                #expect(Self.fileType(deadPath) == S_IFLNK, "the link itself is moved, not its target")
                #expect(Self.linkTarget(deadPath)?.hasPrefix(f.outside + "/") == true)
            case .junkName, .junkJSONName:
                #expect(item.file.hasPrefix("junk-"))
                #expect(f.read(deadPath) == planted, "the file is kept as it was")
            default:
                #expect(planted != nil)
                #expect(f.read(deadPath) == planted, "the file is kept as it was")
            }
            if case .danglingSymlink = input {
                #expect(!FileOps.exists(f.outside + "/nothing-here-\(BadInput.allCases.firstIndex(of: input)!).json"))
            }
        }
        // Good envelopes left duplicate markers; the bad file did not, except where it shares a good id.
        #expect(f.names(f.layout.seen("work")) == (good.map(\.id) + preDelivered).sorted())
    }

    @Test(
        "the reason file records the name the bad file had in new/",
        arguments: [
            BadInput.wrongVersion, .fifo, .junkName, .emptyFile, .wrongRole, .nameMismatch, .duplicateID,
        ])
    func reasonRecordsOriginalName(_ input: BadInput) async throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let (name, _) = try Self.plant(input, in: f, ms: Timestamp.now().milliseconds)
        #expect(try await f.guardedDrain() == [])
        let items = DeadLetters.items(layout: f.layout, role: "work")
        try #require(items.count == 1)
        #expect(
            items[0].reason["original_name"] == .string(name),
            "original_name is \(items[0].reason["original_name"]?.serialized() ?? "missing"), the file was \(name)")
    }

    // MARK: - Symlinks out of the bus

    @Test("a symlink out of the bus is never followed: its target is neither opened nor changed")
    func symlinkTargetUntouched() async throws {
        let f = try Fixture()
        defer { withExtendedLifetime(f) {} }
        let now = Timestamp.now().milliseconds
        let good = try f.publishGood(atMs: now - 1000)

        // A link to a valid envelope for this very queue and name: following it would deliver it.
        let lureID = EnvelopeID.make(at: Timestamp(milliseconds: now))
        let lureTarget = f.outside + "/lure.json"
        let lureBytes = Self.bytes(f.object(id: lureID))
        try f.write(lureBytes, to: lureTarget)
        try #require(symlink(lureTarget, f.layout.new("work") + "/" + lureID + ".json") == 0)
        // A link to a FIFO: opening it for reading without O_NONBLOCK would hang the reader.
        let fifoID = EnvelopeID.make(at: Timestamp(milliseconds: now + 1))
        let fifoTarget = f.outside + "/outside.fifo"
        try #require(mkfifo(fifoTarget, 0o600) == 0)
        try #require(symlink(fifoTarget, f.layout.new("work") + "/" + fifoID + ".json") == 0)

        // Watch both targets for any open, read, write or change.
        let watch = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        try #require(watch >= 0)
        defer { close(watch) }
        let mask =
            UInt32(IN_OPEN | IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)
            | UInt32(IN_DELETE_SELF | IN_MOVE_SELF)
        try #require(inotify_add_watch(watch, lureTarget, mask) >= 0)
        try #require(inotify_add_watch(watch, fifoTarget, mask) >= 0)

        let delivered = try await f.guardedDrain(unblocking: [fifoTarget])
        #expect(delivered == [good.id], "the lure behind the link is not delivered")

        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(watch, &buffer, buffer.count)
        let err = errno
        #expect(n < 0 && err == EAGAIN, "the targets saw \(n) bytes of inotify events")

        #expect(f.read(lureTarget) == lureBytes, "the target's content is unchanged")
        #expect(Self.fileType(fifoTarget) == S_IFIFO)
        #expect(f.names(f.outside).sorted() == ["bus", "lure.json", "outside.fifo"], "nothing new outside the bus")
        let dead = DeadLetters.items(layout: f.layout, role: "work")
        #expect(dead.map(\.file) == [lureID + ".e1.json", fifoID + ".e1.json"])
        for item in dead {
            #expect(Self.fileType(f.layout.dead("work") + "/" + item.file) == S_IFLNK)
            #expect(item.reason["reason"]?.stringValue?.contains("symlink") == true)
        }
        #expect(Self.linkTarget(f.layout.dead("work") + "/" + lureID + ".e1.json") == lureTarget)
        #expect(!f.names(f.layout.seen("work")).contains(lureID), "no duplicate marker for the lure")
    }

    // MARK: - Names that could crash a reader

    @Test("a pending name with an epoch at the top of Int is dead-lettered, not a crash")
    func hugeEpochName() async {
        await #expect(processExitsWith: .success) {
            let temp = try TemporaryBus(settings: .testing, roles: ["work"])
            let sender = try WorkerID.current(role: "sender")
            let envelope = Envelope(run: "r", kind: "task", from: sender, to: "work")
            let name = envelope.id + ".e9223372036854775807.json"
            try FileOps.writeAtomically(
                try envelope.encoded(), to: temp.bus.layout.new("work") + "/" + name,
                stagingDirectory: temp.bus.layout.tmp, mode: 0o600, durable: false)
            let queue = try RoleQueue(bus: temp.bus, role: "work", worker: try WorkerID.current(role: "work"))
            guard try queue.claimNext() == nil else { exit(3) }
            guard DeadLetters.items(layout: temp.bus.layout, role: "work").count == 1 else { exit(4) }
            guard try FileOps.list(temp.bus.layout.new("work")).isEmpty else { exit(5) }
            withExtendedLifetime(temp) {}
        }
    }

    // MARK: - Stray entries elsewhere

    @Test("a stray entry with an odd name in work/<role>/ does not bring the janitor down")
    func janitorSurvivesStrayWorkEntries() async {
        await #expect(processExitsWith: .success) {
            let temp = try TemporaryBus(settings: .testing, roles: ["work"])
            let base = temp.bus.layout.work + "/work"
            for name in ["stray.", "no-dot", "x.e", "1795316645678-abc.e", "1795316645678-abc.eX"] {
                try FileOps.makeDirectories(base + "/" + name, mode: 0o700)
            }
            let janitor = Janitor(bus: temp.bus, worker: try WorkerID.current(role: "janitor"))
            let report = janitor.pass(roles: ["work"])
            guard report.republished == 0 else { exit(3) }
            withExtendedLifetime(temp) {}
        }
    }
}

@Suite("Bad input served by a real worker process", .timeLimit(.minutes(1)))
struct BadInputProcessTests {
    @Test("a worker process dead-letters every bad file with a reason and delivers every good envelope")
    func workerProcess() async throws {
        let bus = try TemporaryBus()
        let layout = bus.bus.layout
        let new = layout.new("work")
        let fm = FileManager.default
        var goods = try bus.publish(3)
        func name(_ n: Int) -> String { String(format: "1795316645678-bad-%03d.json", n) }
        let outside = bus.root + "/outside.json"
        try "{\"secret\":true}".write(toFile: outside, atomically: true, encoding: .utf8)
        let me = try WorkerID.current(role: "test")

        try "{\"v\":1,".write(toFile: new + "/" + name(1), atomically: false, encoding: .utf8)
        _ = fm.createFile(atPath: new + "/" + name(2), contents: Data((0..<256).map { UInt8($0) }))
        _ = fm.createFile(atPath: new + "/" + name(3), contents: Data())
        try fm.createDirectory(atPath: new + "/" + name(4), withIntermediateDirectories: false)
        #expect(mkfifo(new + "/" + name(5), 0o600) == 0)
        try fm.createSymbolicLink(atPath: new + "/" + name(6), withDestinationPath: outside)
        _ = fm.createFile(atPath: new + "/hello world.txt", contents: Data("hi".utf8))
        _ = fm.createFile(atPath: new + "/" + name(7), contents: Data(repeating: 0x20, count: (1 << 20) + 10))
        let wrongRole = Envelope(
            id: String(name(8).dropLast(5)), run: "run1", kind: "item", from: me, to: "elsewhere")
        _ = fm.createFile(atPath: new + "/" + name(8), contents: Data(try wrongRole.encoded()))
        _ = fm.createFile(atPath: new + "/.in-progress", contents: Data("partial".utf8))
        goods += try bus.publish(3)

        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await eventually { bus.doneNames().count == goods.count })
        let deadEntries = { bus.names("dead").filter { !$0.hasSuffix(".reason.json") } }
        #expect(await eventually { deadEntries().count == 9 })
        #expect(worker.process.exitStatus == nil, "the worker died on bad input")
        #expect(await worker.stop() == .exited(0))

        #expect(Set(worker.processed.map(\.id)) == Set(goods))
        for entry in deadEntries() {
            let reason = try #require(DeadLetters.reason(layout: layout, role: "work", file: entry))
            let text = reason["reason"]?.stringValue ?? ""
            #expect(text.count > 5, "\(entry) has no reason")
        }
        #expect(bus.names("new") == [".in-progress"], "a dot-file is ignored and left alone")
        #expect(bus.names("cur").isEmpty)
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "{\"secret\":true}")
    }
}
