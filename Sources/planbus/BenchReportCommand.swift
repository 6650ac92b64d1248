import ArgumentParser
import Bus
import BusBench
import Foundation

extension BenchCommand {
    /// `planbus bench report`: every benchmark in one run, the figures of docs/PERFORMANCE.md.
    struct BenchReportCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Run every benchmark once and gather the figures: the whole performance report.",
            discussion: """
                In one run, on this machine, in this order: \
                (1) the bus against Redis Streams on the same workload (publish → consumer wakes → \
                read → ack, one message at a time for latency and in batches for throughput; memory \
                only, the bus on the scratch filesystem and again on /dev/shm when that is a tmpfs, \
                then durable: the bus durable against redis-server with appendfsync always), \
                with a private redis-server started on a free loopback port in a scratch folder \
                and stopped at the end (skipped, with a note, when redis-server is not installed); \
                (2) `planbus bench bus`: throughput and wake latency against the syscall floor; \
                (3) `planbus log`, `planbus status` and the journal fold over one run of 100,000 \
                envelopes; (4) `planbus bench session`: up start time, and recovery after a \
                SIGKILL against the lease; (5) `planbus bench run`: makespan against the ideal, \
                with the memory (VmRSS, VmHWM from /proc/PID/status) of the supervisor and of \
                every role process, idle and under load. Before the bus parts and before each \
                orchestration session, the time to create a file in the scratch directory is \
                measured against the same on /dev/shm, and a warning names any part measured while \
                the filesystem was slow to create files (as ext4 without a journal is for minutes \
                after many deletions).

                Prints a summary, each figure with the command of its part, then each part's own \
                report; --json prints everything as one document, with the commit and the load \
                averages. Figures are reported, never asserted: the command exits 0 whenever it \
                measured, 1 when a measurement could not be set up. Progress goes to stderr. About \
                8 minutes on 2 cores (--quick: about 2, with counts too small to quote). Build with \
                -c release, and run it on a quiet machine, for real figures.
                """
        )

        @Option(
            help: ArgumentHelp("Make the scratch directories here (default: $TMPDIR, else /tmp).", valueName: "dir"))
        var dir: String?

        @Flag(help: "A short run (about 2 minutes) with small counts: checks that everything runs.")
        var quick = false

        @Flag(help: "Print the report as one JSON document.")
        var json = false

        func validate() throws {
            if let dir, !FileManager.default.fileExists(atPath: dir) {
                throw ValidationError("--dir \(dir) does not exist")
            }
        }

        func run() async throws {
            try await reportingFailures {
                var configuration = PerformanceBenchmark.Configuration(quick: quick)
                configuration.parentDirectory = dir
                let benchmark = PerformanceBenchmark(configuration: configuration) { line in
                    FileHandle.standardError.write(Data("planbus bench: \(line)\n".utf8))
                }
                let report = try await benchmark.run()
                emit(json ? report.json.prettyPrinted() : report.text)
            }
        }
    }
}
