import ArgumentParser
import Bus
import BusBench
import FileFormats
import Foundation
import Launcher
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the bus and its supervision against floors measured in the same run.",
        subcommands: [
            BusBenchmarkCommand.self, SessionBenchmarkCommand.self, RunBenchmarkCommand.self, BusConsumerCommand.self,
            SessionRoleCommand.self, ChaosBenchmarkCommand.self, BenchReportCommand.self,
        ]
    )

    func run() async throws {
        throw ValidationError("name a benchmark: `planbus bench bus`, `planbus bench session` or `planbus bench run`")
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
                let report = try await benchmark.run()
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

    struct SessionBenchmarkCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "session",
            abstract: "Benchmark supervision: up until every role heartbeats, and take-over after a SIGKILL.",
            discussion: """
                Runs the real supervisor, `planbus up`, as a child process, on scratch buses in a \
                temporary directory (or --dir), removed at the end. The roles it starts are this \
                program's hidden `planbus bench session-role`, a role that handles kind bench-work.

                1. up → every role heartbeats: on a fresh bus with the default bus settings, the \
                time from spawning `planbus up` with --instances instances until hb/<role>/ holds \
                a heartbeat file for each, and until sup/<host>/state.json shows every instance \
                running. The floor, measured just before each run: as many `planbus --version` \
                processes started in parallel, until the last has exited. The report gives the \
                ratio of the two, and the time a SIGTERM takes to stop everything.

                2. SIGKILL → envelope completed: for each lease in --leases (heartbeat a fifth of \
                the lease, at most 100ms; janitor 100ms, at most a quarter of the lease; restart \
                backoff 100ms), one instance claims an envelope that waits for a gate file; the \
                benchmark freezes it (SIGSTOP), opens the gate and SIGKILLs it, then times how long until the \
                supervisor shows a new pid, until the replacement claims the envelope at epoch 2, \
                and until the envelope is in done/. Twice: with the role under this host's name \
                (the replacement's janitor sees the dead pid at once), and with --host \
                bench-other (judged by heartbeats alone, so the take-over waits for the lease). \
                Each run's journal must show the last ack at epoch 2 and the expected reason for \
                the take-over; other outcomes are counted as errors in the report.

                Every wait polls a real condition (every 2 ms) with a deadline. Figures are \
                reported, never asserted: the command exits 0 whenever it measured, and non-zero \
                only when it could not set a measurement up. Progress goes to stderr. About 30 s \
                on 2 cores with the defaults, most of it waiting for leases; --quick (leases 500ms \
                and 1s, 2 runs each) takes about 6 s. Build with -c release for real figures.
                """
        )

        @Option(
            help: ArgumentHelp(
                "The leases of the kill measurement, comma-separated durations (at least 50ms).",
                valueName: "durations"))
        var leases: String?

        @Option(help: "Repetitions of every measurement point (default 3; 2 with --quick).")
        var runs: Int?

        @Option(help: "Role instances in the up measurement (default 6, as in the default configuration).")
        var instances = 6

        @Option(help: ArgumentHelp("Make the scratch directory here (default: $TMPDIR, else /tmp).", valueName: "dir"))
        var dir: String?

        @Flag(help: "A short run (about 6 s): leases 500ms and 1s, 2 runs each.")
        var quick = false

        @Flag(help: "Print the report as one JSON document.")
        var json = false

        /// The parsed `--leases`.
        func parsedLeases() throws -> [Duration]? {
            guard let leases else { return nil }
            let items = leases.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard !items.isEmpty, !items.contains(where: \.isEmpty) else {
                throw ValidationError("--leases must be durations separated by commas, such as 500ms,1s,2s,4s")
            }
            return try items.map { item in
                let lease: Duration
                do {
                    lease = try DurationText.parse(item)
                } catch {
                    throw ValidationError("--leases: \(error)")
                }
                guard lease >= .milliseconds(50), lease <= .seconds(300) else {
                    throw ValidationError("--leases: each lease must be from 50ms to 5m, got \(item)")
                }
                return lease
            }
        }

        func validate() throws {
            _ = try parsedLeases()
            if let runs, !(1...100).contains(runs) { throw ValidationError("--runs must be from 1 to 100") }
            if !(1...64).contains(instances) { throw ValidationError("--instances must be from 1 to 64") }
        }

        func run() async throws {
            try await reportingFailures {
                var configuration = SessionBenchmark.Configuration(
                    quick: quick, leases: try parsedLeases(), runs: runs, instances: instances)
                configuration.parentDirectory = dir
                let benchmark = SessionBenchmark(configuration: configuration) { line in
                    FileHandle.standardError.write(Data("planbus bench: \(line)\n".utf8))
                }
                let report = try await benchmark.run()
                emit(json ? report.json.prettyPrinted() : report.text)
            }
        }
    }

    /// A role process of the session benchmark; `planbus up` starts it for `planbus bench session`.
    struct SessionRoleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "session-role",
            abstract: "The session benchmark's role (kind bench-work), run by planbus up for `planbus bench session`.",
            discussion: """
                Reads PLANBUS_BUS, PLANBUS_ROLE, PLANBUS_INSTANCE, PLANBUS_STOP_GRACE_MS and \
                PLANBUS_ENVELOPE_TIMEOUT_MS from the environment, as the supervisor sets them.
                """,
            shouldDisplay: false
        )

        @Option(help: "The host name to claim under (default: this machine's name).")
        var host: String?

        func run() async throws {
            try await reportingFailures {
                var logger = Logger(label: "planbus.bench-role")
                logger.logLevel = .warning
                do {
                    try await BenchRole.serve(
                        environment: Foundation.ProcessInfo.processInfo.environment, host: host, logger: logger)
                } catch let error as BenchError {
                    throw CLIFailure(error.description, code: 3)
                }
            }
        }
    }
}

extension BenchCommand {
    struct RunBenchmarkCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Benchmark orchestration: plans of independent tasks, makespan against the ideal.",
            discussion: """
                For each builder count, a fresh scratch session in a temporary directory (or --dir), \
                removed at the end: a git repository, a plan of --tasks independent tasks (scopes \
                t00/**, t01/**, …; step `sleep S && mkdir -p tNN && echo N > tNN/done`; no gates), a \
                planbus.yaml running planner, builder (that many instances), verifier, judge and docs \
                with the default bus settings, and `planbus up` as a child process. Once every role \
                runs, `planbus submit` is spawned and the run's status.json polled (every 5 ms, one \
                stat per poll) until the planner says finished: the makespan.

                ideal = ceil(tasks / builders) × step floor + mean verification, where the step floor \
                is the time `builders` copies of the step take when spawned at once with /bin/sh -c in \
                the same session (median of 3), and the mean verification is the verifier's mean \
                claim → ack in the run's journal. The report gives makespan / ideal per builder count \
                (target: at most 1.15 with 8 builders), and from the journal where the rest went: the \
                start, the build phase against the floor (builder claim → ack against the step in \
                builder.log, hand-off gaps, negative when a builder took its next build while it \
                still committed the last), verification, and the tail after the last build. Then \
                the large plan (--big tasks whose step only writes its file, --big-builders) shows \
                how the cost per task, and the planner's handling of one verdict, grow with the plan.

                Figures are reported, never asserted: the command exits 0 whenever it measured (a run \
                that does not finish within --timeout is reported as such), 1 when a session could \
                not be set up, 3 for bad options. Progress goes to stderr. With the defaults it takes \
                a few minutes on 2 cores, most of it the large plan. Build with -c release for real \
                figures.
                """
        )

        @Option(help: ArgumentHelp("Builder counts, comma-separated (each 1 to 64).", valueName: "counts"))
        var builders = "1,2,4,8"

        @Option(help: "Tasks in the plan.")
        var tasks = 32

        @Option(help: ArgumentHelp("Seconds each step sleeps (0 to 60; fractions allowed).", valueName: "seconds"))
        var stepSeconds = 1.0

        @Option(help: "Tasks in the large plan, whose steps only write their file (0: no large plan).")
        var big = 500

        @Option(help: ArgumentHelp("Builder counts of the large plan, comma-separated.", valueName: "counts"))
        var bigBuilders = "8"

        @Option(help: "Verifier instances in every session (1 to 16).")
        var verifiers = 1

        @Option(help: ArgumentHelp("The longest one run may take from submit (such as 20m).", valueName: "duration"))
        var timeout = "20m"

        @Option(help: ArgumentHelp("Make the scratch directory here (default: $TMPDIR, else /tmp).", valueName: "dir"))
        var dir: String?

        @Flag(help: "Leave the scratch directory (repositories, buses, journals, logs) for inspection.")
        var keep = false

        @Flag(help: "Print the report as one JSON document.")
        var json = false

        /// A comma-separated list of builder counts.
        static func counts(_ text: String, option: String) throws -> [Int] {
            let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            let counts = items.map { Int($0) }
            guard !items.isEmpty, counts.allSatisfy({ $0.map { (1...64).contains($0) } ?? false }) else {
                throw ValidationError("\(option) must be counts from 1 to 64 separated by commas, such as 1,2,4,8")
            }
            return counts.compactMap { $0 }
        }

        func parsedTimeout() throws -> Duration {
            let value: Duration
            do {
                value = try DurationText.parse(timeout)
            } catch {
                throw ValidationError("--timeout: \(error)")
            }
            guard value >= .seconds(1) else { throw ValidationError("--timeout must be at least 1s") }
            return value
        }

        func validate() throws {
            _ = try Self.counts(builders, option: "--builders")
            _ = try Self.counts(bigBuilders, option: "--big-builders")
            _ = try parsedTimeout()
            if !(1...10_000).contains(tasks) { throw ValidationError("--tasks must be from 1 to 10000") }
            if !(0...10_000).contains(big) { throw ValidationError("--big must be from 0 to 10000") }
            if !(0...60).contains(stepSeconds) { throw ValidationError("--step-seconds must be from 0 to 60") }
            if !(1...16).contains(verifiers) { throw ValidationError("--verifiers must be from 1 to 16") }
        }

        func run() async throws {
            try await reportingFailures {
                var configuration = RunBenchmark.Configuration()
                configuration.builders = try Self.counts(builders, option: "--builders")
                configuration.bigBuilders = try Self.counts(bigBuilders, option: "--big-builders")
                configuration.tasks = tasks
                configuration.stepSeconds = stepSeconds
                configuration.bigTasks = big
                configuration.verifiers = verifiers
                configuration.timeout = try parsedTimeout()
                configuration.parentDirectory = dir
                configuration.keep = keep
                let benchmark = RunBenchmark(configuration: configuration) { line in
                    FileHandle.standardError.write(Data("planbus bench: \(line)\n".utf8))
                }
                let report = try await benchmark.run()
                emit(json ? report.json.prettyPrinted() : report.text)
            }
        }
    }
}
