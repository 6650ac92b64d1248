import ArgumentParser
import Bus
import FileFormats
import Foundation
import Launcher

#if canImport(Glibc)
    import Glibc
#endif

struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop every role on the bus gracefully, on every host.",
        discussion: """
            Writes the stop file ctl/stop, which every role process and supervisor sees, on this \
            host and on others sharing the bus. Each role stops claiming, finishes or releases the \
            envelope in hand, and exits; supervisors kill the process groups of roles still running \
            after their stop grace. When the deadline passes, role processes of this host that \
            still run are killed; workers on other hosts that still run are listed. ctl/stop stays \
            until the next planbus up removes it.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Option(help: "How long to wait for every role to stop, such as 30s (default: the longest stop_grace + 5s).")
    var deadline: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            // A broken configuration must not keep anyone from stopping the roles: with --bus or
            // $PLANBUS_BUS, the defaults do.
            let config: PlanbusConfig
            do {
                config = try busOptions.loadConfig()
            } catch let failure as CLIFailure {
                guard let bus = busOptions.locator.overridingBus else { throw failure }
                FileOps.standardErrorLine("planbus: \(failure.message); stopping \(bus) with the default stop grace")
                config = ConfigLoader.defaults(directory: FileManager.default.currentDirectoryPath)
            }
            let bus = try Bus.open(at: busOptions.locator.overridingBus ?? config.bus)
            let limit: Duration
            if let deadline {
                limit = try DurationText.parse(deadline)
            } else {
                let graces = config.roles.compactMap(\.timeouts.stopGrace) + [config.supervisor.stopGrace]
                limit = graces.max()! + .seconds(5)
            }
            try StopFiles(layout: bus.layout).requestStop()
            let files = SupervisorFiles(layout: bus.layout)
            let supervisorPid = SupervisorLock.isHeld(files) ? SupervisorLock.recordedPid(files) : nil
            func supervisorRuns() -> Bool {
                SupervisorLock.isHeld(files) || (supervisorPid.map { ProcessInfo.isRunning($0) } ?? false)
            }
            let end = ContinuousClock.now + limit
            var running = live(bus)
            while ContinuousClock.now < end {
                running = live(bus)
                if running.isEmpty && !supervisorRuns() { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            // Past the deadline: kill what runs here, but only processes proven to be the workers
            // that wrote the heartbeats (a reused pid is left alone).
            var killed: [WorkerStatus] = []
            for w in running where w.verifiedLocal {
                guard let pid = w.pid else { continue }
                if getpgid(pid) == pid { kill(-pid, SIGKILL) } else { kill(pid, SIGKILL) }
                killed.append(w)
            }
            let remote = running.filter { !$0.verifiedLocal }
            let supervisorLeft = supervisorRuns()
            if json {
                emit(
                    JSONValue.object([
                        "stopped": .bool(remote.isEmpty),
                        "supervisor_pid": supervisorPid.map { .number(Double($0)) } ?? .null,
                        "killed": .array(killed.map(\.json)), "still_running": .array(remote.map(\.json)),
                    ]).serialized())
            } else {
                if let supervisorPid {
                    emit(
                        supervisorLeft
                            ? "supervisor (pid \(supervisorPid)) still runs after the deadline"
                            : "supervisor (pid \(supervisorPid)) stopped")
                }
                for w in killed { emit("killed \(w.worker ?? w.role) after the deadline") }
                for w in remote { emit("still running on \(w.host): \(w.worker ?? w.role) (it will see ctl/stop)") }
                if killed.isEmpty && remote.isEmpty && !supervisorLeft { emit("every role stopped") }
            }
            if !remote.isEmpty || supervisorLeft { throw ExitCode(1) }
        }
    }

    /// Workers whose heartbeat says they still run (not stopped, dead or stale).
    private func live(_ bus: Bus) -> [WorkerStatus] {
        WorkerStatus.collect(bus: bus).filter { w in
            w.worker != nil && w.state != "stopped" && w.mark != "dead" && w.mark != "stale"
        }
    }
}
