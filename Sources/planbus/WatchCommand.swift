import ArgumentParser
import Bus
import FileFormats
import Foundation
import Launcher
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "A live view of the roles, a run's tasks and what waits for a person.",
        discussion: """
            On a terminal it redraws in place every --interval until Ctrl-C: the workers (as \
            planbus ps shows them), the run's stage and tasks (from runs/RUN/status.json; without \
            RUN, the run whose status changed last) and the requests in the human queue. When \
            stdout is not a terminal, or with --once, it prints one snapshot and exits.
            """
    )

    @Argument(help: "The run id (default: the most recent run).")
    var run: String?

    @Option(help: ArgumentHelp("How often to redraw, such as 500ms or 2s.", valueName: "duration"))
    var interval: String = "500ms"

    @Flag(help: "Print one snapshot and exit.")
    var once = false

    @Flag(help: "Print one snapshot as JSON and exit.")
    var json = false

    @OptionGroup var busOptions: BusOptions

    func validate() throws {
        let period = try period()
        if period < .milliseconds(50) || period > .seconds(3_600) {
            throw ValidationError("--interval must be from 50ms to 1h, got \(interval)")
        }
    }

    private func period() throws -> Duration {
        do {
            return try DurationText.parse(interval)
        } catch {
            throw ValidationError("--interval: \(error.message)")
        }
    }

    func run() async throws {
        try await reportingFailures {
            if let run { try Limits.checkName(run, field: "RUN") }
            let bus = try busOptions.open()
            if let run, !FileOps.isDirectory(bus.layout.run(run)) {
                throw CLIFailure("no run \(run) on \(bus.layout.root) (planbus status lists the latest)", code: 4)
            }
            if json {
                emit(RunWatchSnapshot.take(bus: bus, run: run).json.serialized())
                return
            }
            if once || isatty(1) != 1 {
                emit(RunWatch.text(RunWatchSnapshot.take(bus: bus, run: run)))
                return
            }
            try await live(bus: bus, every: period())
        }
    }

    /// Redraws every `every` until SIGINT or SIGTERM.
    private func live(bus: Bus, every: Duration) async throws {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let run = self.run
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals { return }
            }
            group.addTask {
                while !Task.isCancelled {
                    let frame = RunWatch.frame(RunWatchSnapshot.take(bus: bus, run: run), interval: every)
                    FileHandle.standardOutput.write(Data(frame.utf8))
                    try? await Task.sleep(for: every)
                }
            }
            await group.next()
            group.cancelAll()
        }
        emit("")
    }
}
