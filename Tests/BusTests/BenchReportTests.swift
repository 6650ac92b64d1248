import Bus
import BusTesting
import Foundation
import Testing

@testable import BusBench

#if canImport(Glibc)
    import Glibc
#endif

/// The parts of `planbus bench report` that parse or compute: RESP, `/proc/<pid>/status`, the
/// latency percentiles, the ratios and the per-role memory. Nothing here times anything.
@Suite struct BenchReportTests {
    // MARK: RESP

    @Test func encodesACommandAsAnArrayOfBulkStrings() {
        #expect(
            RESPEncoder.command(["SET", "key", "vä"])
                == Array("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\nvä\r\n".utf8))
        #expect(RESPEncoder.command([[UInt8]()]) == Array("*1\r\n$0\r\n\r\n".utf8))
    }

    @Test func decodesEveryReplyType() throws {
        let text = "+OK\r\n-ERR bad\r\n:-42\r\n$4\r\na\r\nb\r\n$-1\r\n*-1\r\n*2\r\n$1\r\nx\r\n*1\r\n:7\r\n"
        let bytes = Array(text.utf8)
        var values: [RESPValue] = []
        var position = 0
        while let (value, next) = try RESPParser.parse(bytes, from: position) {
            values.append(value)
            position = next
        }
        #expect(position == bytes.count)
        #expect(
            values == [
                .simple("OK"), .error("ERR bad"), .integer(-42), .bulk(Array("a\r\nb".utf8)), .bulk(nil), .array(nil),
                .array([.bulk(Array("x".utf8)), .array([.integer(7)])]),
            ])
        #expect(values[3].text == "a\r\nb")
        #expect(values[6].elements?.count == 2)
    }

    @Test func everyProperPrefixOfAReplyIsIncomplete() throws {
        let bytes = Array("*2\r\n$3\r\nabc\r\n:12\r\n".utf8)
        for end in 0..<bytes.count {
            #expect(try RESPParser.parse(Array(bytes[0..<end])) == nil, "prefix of \(end) bytes")
        }
        let whole = try #require(try RESPParser.parse(bytes))
        #expect(whole.1 == bytes.count)
    }

    @Test func malformedRepliesAreRefused() {
        for text in ["?x\r\n", ":1a\r\n", "$-2\r\n", "$3\r\nabcde\r\n", "*x\r\n"] {
            #expect(throws: RESPParser.Malformed.self, "\(text.debugDescription)") {
                _ = try RESPParser.parse(Array(text.utf8))
            }
        }
    }

    /// Requires Debian's redis-server (`apt-get install redis-server`); skipped without it.
    @Test(.enabled(if: RedisServer.executable() != nil, "redis-server is not installed"))
    func talksToARealRedisServer() async throws {
        let temporary = try TemporaryBus()
        let folder = temporary.root
        let server = try await RedisServer(
            executable: try #require(RedisServer.executable()), folder: folder, persistence: .memory)
        do {
            let connection = try RedisConnection(port: server.port)
            #expect(try connection.call(["PING"]) == .simple("PONG"))
            let binary: [UInt8] = [0, 13, 10, 36, 42, 255]
            #expect(try connection.call([Array("SET".utf8), Array("k".utf8), binary]) == .simple("OK"))
            #expect(try connection.call(["GET", "k"]) == .bulk(binary))
            #expect(try connection.call(["GET", "missing"]) == .bulk(nil))
            #expect(throws: BenchError.self) { try connection.call(["NOSUCHCOMMAND"]) }

            // Pipelined: three commands written at once, three replies read in order.
            try connection.write(
                RESPEncoder.command(["INCR", "n"]) + RESPEncoder.command(["INCR", "n"])
                    + RESPEncoder.command(["INCRBY", "n", "40"]))
            #expect(
                try [connection.read(), connection.read(), connection.read()] == [
                    .integer(1), .integer(2), .integer(42),
                ])

            // The stream round trip of the benchmark: XADD, XREADGROUP, XACK.
            try connection.call(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])
            let added = try connection.call(["XADD", "s", "*", "envelope", "{}"])
            let id = try #require(added.text)
            let read = try connection.call(["XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "s", ">"])
            let entries = try #require(read.elements?.first?.elements?.last?.elements)
            #expect(entries.count == 1)
            #expect(entries.first?.elements?.first?.text == id)
            #expect(entries.first?.elements?.last?.elements?.map(\.text) == ["envelope", "{}"])
            #expect(try connection.call(["XACK", "s", "g", id]) == .integer(1))
            #expect(try connection.call(["XACK", "s", "g", id]) == .integer(0))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        #expect((try? RedisConnection(port: server.port)) == nil, "the server still listens after stop")
        withExtendedLifetime(temporary) {}
    }

    // MARK: /proc/<pid>/status

    @Test func parsesResidentAndPeakMemoryFromProcStatus() {
        let text = """
            Name:\tplanbus
            State:\tS (sleeping)
            VmPeak:\t  400000 kB
            VmHWM:\t   23456 kB
            VmRSS:\t   12345 kB
            Threads:\t4
            """
        #expect(ProcessMemory.parse(status: text) == ProcessMemory(residentKiB: 12_345, peakKiB: 23_456))
        #expect(ProcessMemory.parse(status: "Name:\tkthreadd\nState:\tS (sleeping)\n") == nil)
        #expect(ProcessMemory.parse(status: "VmRSS:\t 5 kB\n") == nil)
    }

    @Test func readsThisProcessAndNotAMissingOne() throws {
        let memory = try #require(ProcessMemory.read(pid: getpid()))
        #expect(memory.residentKiB > 0)
        #expect(memory.peakKiB >= memory.residentKiB)
        #expect(ProcessMemory.read(pid: Int32.max) == nil)
    }

    @Test func groupsMemoryByRole() {
        func reading(_ role: String, _ instance: Int, idle: Int, load: Int, peak: Int) -> RoleMemory {
            RoleMemory(
                role: role, instance: instance, pid: 1, idle: ProcessMemory(residentKiB: idle, peakKiB: idle),
                loadResidentKiB: load, loadPeakKiB: peak)
        }
        let rows = PerformanceReport.perRole([
            reading("supervisor", 0, idle: 10, load: 11, peak: 12),
            reading("builder", 1, idle: 20, load: 35, peak: 40),
            reading("builder", 2, idle: 22, load: 30, peak: 41),
        ])
        #expect(rows.map(\.role) == ["supervisor", "builder"])
        #expect(rows[1].instances == 2)
        #expect(rows[1].idle == 22)
        #expect(rows[1].load == 35)
        #expect(rows[1].peak == 41)
    }

    // MARK: percentiles and ratios

    @Test func nearestRankPercentiles() {
        let summary = LatencySummary((1...100).reversed().map { Duration.microseconds($0) })
        #expect(summary.p50 == 50)
        #expect(summary.p99 == 99)
        #expect(summary.percentile(100) == 100)
        #expect(summary.percentile(0) == 1)
        #expect(summary.min == 1)
        #expect(summary.max == 100)
        #expect(summary.mean == 50.5)
        let one = LatencySummary([.microseconds(7)])
        #expect(one.p50 == 7 && one.p99 == 7)
        #expect(LatencySummary([]).p99 == 0)
        // 10 samples: p99 is the largest (rank ceil(9.9) = 10), p50 the 5th.
        let ten = LatencySummary((1...10).map { Duration.microseconds($0 * 10) })
        #expect(ten.p50 == 50)
        #expect(ten.p99 == 100)
    }

    @Test func brokerRatiosAndTheGoal() {
        var mode = BrokerModeResult(
            durable: false, redisPersistence: "--save ''",
            busLatency: LatencySummary([.microseconds(90), .microseconds(100), .microseconds(300)]),
            redisLatency: LatencySummary([.microseconds(40), .microseconds(50), .microseconds(60)]))
        #expect(mode.latencyRatioP50 == 2)
        #expect(mode.latencyRatioP99 == 5)
        #expect(mode.throughputRatio == nil)
        mode.busThroughput = Rate(count: 1_000, seconds: 0.5)
        mode.redisThroughput = Rate(count: 1_000, seconds: 0.05)
        #expect(mode.throughputRatio == 10)
        #expect(mode.json["latency_goal_bus_p50_within_2x"] == .bool(true))
        mode.busLatency = LatencySummary([.microseconds(101)])
        #expect(mode.json["latency_goal_bus_p50_within_2x"] == .bool(false))
        let empty = BrokerModeResult(
            durable: true, redisPersistence: "", busLatency: LatencySummary([]), redisLatency: LatencySummary([]))
        #expect(empty.latencyRatioP50 == 0)
        #expect(empty.memoryLatencyRatioP50 == nil)
        #expect(empty.json["bus_on_memory_latency_ratio_p50"] == .null)
        mode.busOnMemoryLatency = LatencySummary([.microseconds(75)])
        #expect(mode.memoryLatencyRatioP50 == 1.5)
        #expect(mode.json["bus_on_memory_latency_ratio_p50"] == .number(1.5))
        #expect(mode.json["bus_on_memory_folder"] == .string("/dev/shm"))
    }

    // MARK: the file-creation probe

    @Test func theFileCreationProbeCreatesItsFilesAndKeepsThem() throws {
        let temporary = try TemporaryBus()
        let folder = temporary.root + "/probe"
        let probe = try FileCreateProbe.measure(label: "a part", in: folder)
        #expect(probe.label == "a part")
        #expect(probe.microseconds > 0)
        // Three batches, left in place: deleting them would slow the next part's file creation.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).count == 3 * FileCreateProbe.batch)
        if FileManager.default.fileExists(atPath: "/dev/shm") {
            #expect(probe.memoryFolder == "/dev/shm")
            #expect((probe.memoryMicroseconds ?? 0) > 0)
        }
        let existing = temporary.root + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        #expect(
            try FileCreateProbe.measure(label: "again", in: existing).microseconds > 0, "an existing folder is fine")
        withExtendedLifetime(temporary) {}
    }

    @Test func aProbeTenTimesTheMemoryReferenceIsSlow() {
        var probe = FileCreateProbe(label: "32 tasks with 8 builders", microseconds: 470, memoryMicroseconds: 47)
        #expect(probe.ratio == 10)
        #expect(probe.isSlow)
        #expect(
            probe.warning?.hasPrefix(
                "32 tasks with 8 builders: creating a file in the scratch directory took \(format(470)) µs, "
                    + "\(format(10))× the \(format(47)) µs in /dev/shm") == true)
        #expect(probe.json["slow"] == .bool(true))
        #expect(probe.text.hasSuffix(": SLOW"))
        probe.microseconds = 469
        #expect(!probe.isSlow)
        #expect(probe.warning == nil)
        #expect(probe.json["slow"] == .bool(false))
        // Without a memory filesystem there is nothing to judge by: never slow.
        let alone = FileCreateProbe(label: "x", microseconds: 10_000)
        #expect(alone.ratio == nil)
        #expect(!alone.isSlow)
        #expect(alone.text.contains("no memory filesystem"))
    }

    // MARK: the command

    @Test func reportRefusesADirectoryThatDoesNotExist() async throws {
        let result = try await runCommand([
            Executables.planbus, "bench", "report", "--dir", "/nonexistent/planbus-bench",
        ])
        #expect(result.code == 64)
        #expect(result.stderr.contains("does not exist"))
        let help = try await runCommand([Executables.planbus, "bench", "report", "--help"])
        #expect(help.code == 0)
        #expect(help.stdout.contains("Redis Streams"))
    }
}
