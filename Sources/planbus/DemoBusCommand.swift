import ArgumentParser
import Bus
import Foundation
import Launcher
import Logging
import ServiceLifecycle
import UnixSignals

struct DemoBusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Demonstrate the bus: competing worker processes, a crash mid-work, a fenced take-over.",
        discussion: """
            Creates the bus if needed, starts three demo-work processes and one demo-collect process, \
            publishes jobs, SIGKILLs a worker while it holds a claim, and waits until every job is done. \
            Then it prints the run's timeline and checks that each job was done exactly once. Explore \
            afterwards with `planbus log --run RUN`, `planbus show ID`, `ls bus/q/demo-work/done/*/`.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Option(help: "How many jobs to publish.")
    var jobs = 12

    @Option(help: "How long each simulated job takes, in milliseconds.")
    var workMs = 400

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    @Option(help: .hidden)
    var workerRole: String?

    func run() async throws {
        try await reportingFailures {
            if let workerRole { return try await serve(workerRole) }
            guard jobs >= 1, jobs <= 10_000 else { throw CLIFailure("--jobs must be from 1 to 10000", code: 3) }
            let (bus, _) = try Bus.create(at: busOptions.path())
            let executable =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            let quiet = json
            let demo = BusDemo(executable: executable, bus: bus, jobs: jobs, workMs: workMs) { line in
                if !quiet { emit("demo: " + line) }
            }
            let outcome = try await demo.run()
            let entries = Timeline(bus: bus).entries(
                run: outcome.run, events: JournalReader(layout: bus.layout).events(run: outcome.run))
            if json {
                emit(
                    JSONValue.object([
                        "run": .string(outcome.run), "jobs": .number(Double(outcome.jobs.count)),
                        "killed_pid": outcome.killedPID.map { .number(Double($0)) } ?? .null,
                        "takeovers": .number(Double(outcome.takeovers.count)),
                        "collected": .number(Double(outcome.collected)), "exactly_once": .bool(outcome.exactlyOnce),
                        "timeline": .array(entries.map(\.json)),
                    ]).serialized())
            } else {
                emit(
                    "\ntimeline of run \(outcome.run) (\(CommandLine.arguments[0]) log --bus \(bus.layout.root) --run \(outcome.run)):"
                )
                for entry in entries { emit("  " + entry.line) }
                emit("")
                for t in outcome.takeovers {
                    let epoch = t.epoch ?? 0
                    emit(
                        "take-over: \(t.id) released at epoch \(epoch), retaken at epoch \(epoch + 1): \(t.reason ?? "")"
                    )
                }
                let retaken = outcome.doneEpochs.filter { $0.value > 1 }.count
                emit(
                    "\(outcome.jobs.count) jobs, \(outcome.collected) results collected, \(retaken) finished after a take-over; "
                        + (outcome.exactlyOnce
                            ? "every job done exactly once." : "NOT every job was done exactly once."))
                if let id = outcome.doneEpochs.first(where: { $0.value > 1 })?.key ?? outcome.jobs.first {
                    emit("try: \(CommandLine.arguments[0]) show --bus \(bus.layout.root) \(id)")
                }
            }
            if !outcome.exactlyOnce { throw CLIFailure("the demonstration did not complete exactly once", code: 1) }
        }
    }

    /// Runs one demo worker process until SIGTERM.
    private func serve(_ role: String) async throws {
        let bus = try busOptions.open()
        let worker = try WorkerID.current(role: role)
        var logger = Logger(label: "planbus.demo")
        logger.logLevel = .warning
        let service = try BusWorker(
            bus: bus, role: role, worker: worker, logger: logger,
            handler: BusDemo.handler(role: role, worker: worker, workMs: workMs))
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
