import ArgumentParser
import Bus
import BusBench
import Foundation
import Launcher
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the bus against the raw cost of its system calls.",
        subcommands: [BusBenchmarkCommand.self, BusConsumerCommand.self]
    )

    func run() async throws {
        throw ValidationError("name a benchmark: `planbus bench bus`")
    }
}

extension BenchCommand {
    struct BusBenchmarkCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bus",
            abstract: "Benchmark the file bus: throughput, wake latency, log query, and the syscall floor.",
            discussion: """
                Runs on a scratch bus in a temporary directory (or --dir), removed at the end. \
                Measures, in one run: the floor (the bus's per-envelope system calls with no bus \
                logic, and create+write+rename, O_EXCL create and rename alone); publish→wake→claim→\
                read→ack throughput with 1 and 4 consumer processes, non-durable and durable, and its \
                ratio to the floor; wake latency in inotify and poll mode; and `planbus log --run R` \
                on a bus of 100,000 envelopes. Figures are compared with the targets, never \
                asserted: the command succeeds whatever they are. Progress goes to stderr. About 2 \
                minutes on 2 cores; --quick takes about 20 s. Build with -c release for real figures.
                """
        )

        @Option(help: "Envelopes per non-durable throughput case and floor loop (default 20000; 2000 with --quick).")
        var count: Int?

        @Option(help: "Envelopes per durable case and durable floor loop (default: count / 20, at least 100).")
        var durableCount: Int?

        @Option(help: "Poll period of the poll-mode wake-latency measurement, in milliseconds.")
        var pollMs = 50

        @Option(help: ArgumentHelp("Make the scratch directory here (default: $TMPDIR, else /tmp).", valueName: "dir"))
        var dir: String?

        @Flag(help: "A short run (about 20 s) with smaller counts.")
        var quick = false

        @Flag(help: "Print the report as one JSON document.")
        var json = false

        func validate() throws {
            if let count, count < 10 { throw ValidationError("--count must be at least 10") }
            if let durableCount, durableCount < 10 { throw ValidationError("--durable-count must be at least 10") }
            if pollMs < 10 { throw ValidationError("--poll-ms must be at least 10") }
        }

        func run() async throws {
            try await reportingFailures {
                var configuration = BusBenchmark.Configuration(quick: quick, count: count, durableCount: durableCount)
                configuration.pollMs = pollMs
                configuration.parentDirectory = dir
                let benchmark = BusBenchmark(configuration: configuration) { line in
                    FileHandle.standardError.write(Data("planbus bench: \(line)\n".utf8))
                }
                let report: BenchReport
                do {
                    report = try await benchmark.run()
                } catch let error as BenchError {
                    throw CLIFailure(error.description, code: error.code == .invalidArgument ? 3 : 1)
                } catch let error as LauncherError {
                    throw CLIFailure(error.description, code: 1)
                }
                emit(json ? report.json.prettyPrinted() : report.text)
            }
        }
    }

    /// One consumer process of the throughput benchmark; started by `planbus bench bus`.
    struct BusConsumerCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bus-consumer",
            abstract: "A benchmark consumer: a worker that acks everything (started by `planbus bench bus`).",
            shouldDisplay: false
        )

        @Option(help: "The bus directory.")
        var bus: String

        @Option(help: "The role queue to consume.")
        var role: String

        @Option(help: "A file to create once the worker's wake source is live.")
        var ready: String

        @Flag(help: "Run the wake→claim→ack loop without a heartbeat writer (a what-if measurement).")
        var noHeartbeat = false

        func run() async throws {
            try await reportingFailures {
                var logger = Logger(label: "planbus.bench") { StreamLogHandler.standardError(label: $0) }
                logger.logLevel = .warning
                try await BenchConsumer.run(
                    busPath: bus, role: role, readyFile: ready, heartbeat: !noHeartbeat, logger: logger)
            }
        }
    }
}
