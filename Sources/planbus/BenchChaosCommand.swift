import ArgumentParser
import Bus
import BusBench
import FileFormats
import Foundation

extension BenchCommand {
    struct ChaosBenchmarkCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "chaos",
            abstract:
                "Run a plan while role processes, and the supervisor once, are SIGKILLed; check nothing was lost.",
            discussion: """
                In a scratch directory (a temporary one, or inside --dir), removed at the end unless \
                --keep: a git repository, a plan of --tasks tasks whose `run:` step writes one file \
                in the task's own scope (up to 4 dependency chains of up to 5 tasks, whose steps \
                check that the file of the task before is there), and `planbus up` running the \
                planner, --builders builders, --verifiers verifiers, the judge and the docs role \
                (bus: durable, heartbeat 1s, lease 10s, janitor 250ms; supervisor: restarts never \
                mark a role failed, backoff 100ms to 1s). After `planbus submit`, every \
                --min-interval to --max-interval seconds (drawn from --seed) a random role process \
                of the supervisor is frozen, the claims it holds are read from cur/, and it is \
                SIGKILLed. When half the tasks are integrated the supervisor itself is SIGKILLed \
                (its roles die with it) and `planbus up` is started again. When the planner says \
                the run is finished and the queues are empty: `planbus down`, then `planbus \
                janitor --watch`.

                The checks: the run finished with every task integrated (status.json); every task \
                merged into the integration branch exactly once (merge commits on its first-parent \
                line per Planbus-Task trailer) and its file at the head; dependent tasks merged \
                after their dependencies; no envelope lost (every envelope in every run's journal \
                done or dead, no q/*/new, cur or retry entries); no dead letters (each is named, \
                with its reason); no leftovers (nothing in tmp/, q/*/cur/ or work/, no git work tree \
                but the repository, nothing in the run's trees/, verify/ or merge/ folders, no git \
                .lock file); up, down and the janitor behaved; every claim a killed process held \
                was claimed again or completed.

                The figures: kills per role, take-overs (the journal's expire lines), the recovery \
                from a kill to the killed holder's envelope being claimed again, and to it being \
                completed (min, p50, p90, max), and the times. Progress goes to stderr. Exit \
                status: 0 when every check holds, 1 when one fails (each failure is named) or the \
                run could not be set up, 3 for bad options.
                """
        )

        @Option(help: "Tasks in the plan (1 to 10000).")
        var tasks = 200

        @Option(help: "Builder instances (1 to 64).")
        var builders = 4

        @Option(help: "Verifier instances (1 to 16).")
        var verifiers = 2

        @Option(help: "The seed of the kill schedule (default: drawn, and printed).")
        var seed: UInt64?

        @Option(help: ArgumentHelp("The shortest gap between two kills, in seconds.", valueName: "seconds"))
        var minInterval = 0.2

        @Option(help: ArgumentHelp("The longest gap between two kills, in seconds.", valueName: "seconds"))
        var maxInterval = 1.0

        @Option(help: ArgumentHelp("The longest the run may take from submit (such as 30m).", valueName: "duration"))
        var timeout = "30m"

        @Option(help: ArgumentHelp("Make the scratch directory here (default: $TMPDIR, else /tmp).", valueName: "dir"))
        var dir: String?

        @Flag(help: "Leave the scratch directory (repository, bus, journals, logs) for inspection.")
        var keep = false

        @Flag(help: "Print the report as one JSON document.")
        var json = false

        func parsedTimeout() throws -> Duration {
            let value: Duration
            do {
                value = try DurationText.parse(timeout)
            } catch {
                throw CLIFailure("--timeout: \(error)", code: 3)
            }
            guard value >= .seconds(1) else { throw CLIFailure("--timeout must be at least 1s", code: 3) }
            return value
        }

        func validate() throws {
            // Bad options exit 3, as the benchmark's own checks of its configuration do.
            try reportingInvalid {
                _ = try parsedTimeout()
                if !(1...10_000).contains(tasks) { throw CLIFailure("--tasks must be from 1 to 10000", code: 3) }
                if !(1...64).contains(builders) { throw CLIFailure("--builders must be from 1 to 64", code: 3) }
                if !(1...16).contains(verifiers) { throw CLIFailure("--verifiers must be from 1 to 16", code: 3) }
                if !(minInterval >= 0.01) || !(maxInterval <= 3600) || !(maxInterval >= minInterval) {
                    throw CLIFailure(
                        "--min-interval must be at least 0.01 and --max-interval from --min-interval to 3600", code: 3)
                }
            }
        }

        private func reportingInvalid(_ body: () throws -> Void) throws {
            do {
                try body()
            } catch let failure as CLIFailure {
                FileHandle.standardError.write(Data("planbus: \(failure.message)\n".utf8))
                throw ExitCode(failure.code)
            }
        }

        func run() async throws {
            try await reportingFailures {
                var configuration = ChaosBenchmark.Configuration()
                configuration.tasks = tasks
                configuration.builders = builders
                configuration.verifiers = verifiers
                configuration.seed = seed
                configuration.minInterval = minInterval
                configuration.maxInterval = maxInterval
                configuration.timeout = try parsedTimeout()
                configuration.parentDirectory = dir
                configuration.keep = keep
                let benchmark = ChaosBenchmark(configuration: configuration) { line in
                    FileHandle.standardError.write(Data("planbus bench chaos: \(line)\n".utf8))
                }
                let report = try await benchmark.run()
                emit(json ? report.json.prettyPrinted() : report.text)
                if !report.passed {
                    for failure in report.failures {
                        FileHandle.standardError.write(Data("planbus bench chaos: FAILED \(failure)\n".utf8))
                    }
                    throw ExitCode(1)
                }
            }
        }
    }
}
