import ArgumentParser
import Bus
import FileFormats
import Foundation
import Launcher
import Logging
import Processes
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start every configured role instance and keep them running.",
        discussion: """
            Each instance is its own process, in its own process group, with no inherited file \
            descriptors. A process that dies is re-spawned with backoff; one whose heartbeat \
            progress stalls past its hang timeout is stopped and re-spawned; a role restarted more \
            than restart_intensity times within restart_period is marked failed (planbus ps shows \
            it) while the others go on. If the supervisor itself is killed, its role processes die \
            with it, and the next planbus up takes over every envelope they held.

            In the foreground, on a terminal, it draws a live status table; otherwise it prints a \
            line per event. Ctrl-C (or planbus down) stops every role gracefully. With --detach \
            the supervisor runs in the background, its pid and log under the bus's sup/<host>/ \
            folder. One supervisor runs per bus per host.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Flag(help: "Run the supervisor in the background and return once every role heartbeats.")
    var detach = false

    @Flag(help: "Print a line per event even on a terminal (no status table).")
    var lines = false

    @Flag(help: "With --detach, print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let config = try busOptions.loadConfig()
            guard FileManager.default.fileExists(atPath: config.bus + "/VERSION") else {
                throw CLIFailure("no bus at \(config.bus); create it with planbus init", code: 4)
            }
            if detach {
                try await startDetached(config: config, bus: try Bus.open(at: config.bus))
                return
            }
            signal(SIGPIPE, SIG_IGN)
            // Opening the bus changes nothing on it, but makes this process create files with the
            // bus's modes (its umask), the lock's folder included.
            _ = try Bus.open(at: config.bus)
            // The lock first: a refused up must change nothing of the running session.
            let lock = try SupervisorLock.acquire(SupervisorFiles(layout: BusLayout(root: config.bus)))
            let bus = try prepareBus(config)
            let display: Supervisor.Display = !lines && isatty(1) == 1 ? .table : .lines
            var logger = Logger(label: "planbus.supervisor")
            logger.logLevel = .warning
            let supervisor = Supervisor(
                config: config, bus: bus,
                options: .init(roleExecutable: Self.executable, display: display, output: { emit($0) }), logger: logger,
                lock: lock)
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup)],
                    gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger))
            do {
                try await group.run()
            } catch let error as LauncherError {
                throw CLIFailure(error)
            }
        }
    }

    /// Opens the bus, writes the configuration's bus settings into it, and checks that each role's
    /// hang timeout leaves room for the progress an idle role shows once per janitor pass.
    private func prepareBus(_ config: PlanbusConfig) throws -> Bus {
        do {
            if let change = try Bus.updateSettings(at: config.bus, { config.busSettings.applied(to: $0) }) {
                FileOps.standardErrorLine(
                    "planbus: bus settings updated from the configuration: \(change.new.json.serialized())")
            }
            let bus = try Bus.open(at: config.bus)
            for role in config.roles { try bus.ensureQueue(role.name) }
            let janitor = Duration.milliseconds(bus.settings.janitorMs)
            for role in config.roles where role.instances > 0 {
                let hang = role.timeouts.hang ?? .milliseconds(bus.settings.leaseMs)
                guard hang > janitor * 2 else {
                    let field = role.timeouts.hang == nil ? "bus_settings.lease" : "roles.\(role.name).timeouts.hang"
                    throw CLIFailure(
                        "\(config.file ?? "the configuration"): \(field) (\(DurationText.format(hang))) must be longer "
                            + "than twice bus_settings.janitor (\(DurationText.format(janitor))): an idle role shows "
                            + "progress once per janitor pass, so it would be taken for hung", code: 3)
                }
            }
            return bus
        } catch let error as BusError {
            throw CLIFailure(error)
        }
    }

    /// Starts `planbus up --lines` in a new session, logging under the bus, and waits until every
    /// instance heartbeats (or the supervisor gives up).
    private func startDetached(config: PlanbusConfig, bus: Bus) async throws {
        let files = SupervisorFiles(layout: bus.layout)
        if SupervisorLock.isHeld(files) {
            let pid = SupervisorLock.recordedPid(files).map { " (pid \($0))" } ?? ""
            throw CLIFailure(
                "a supervisor\(pid) already runs for bus \(bus.layout.root) on host \(files.host); "
                    + "planbus ps shows it and planbus down stops it", code: 1)
        }
        try? FileManager.default.createDirectory(atPath: files.directory, withIntermediateDirectories: true)
        var arguments = [Self.executable, "up", "--lines", "--bus", config.bus]
        if let file = config.file { arguments += ["--config", file] }
        let child: ChildProcess
        child = try ChildProcess.spawn(arguments, stdout: .file(files.log), stderr: .file(files.log), newSession: true)
        let expected = config.roles.reduce(0) { $0 + $1.instances }
        let deadline = ContinuousClock.now + config.supervisor.startTimeout + .seconds(10)
        while true {
            if let exit = child.exitStatus {
                let tail = textLines(of: files.log).suffix(5).joined(separator: "\n")
                throw CLIFailure("the supervisor ended (\(exit)) while starting; \(files.log) says:\n\(tail)", code: 1)
            }
            if let snap = SupervisorSnapshot.read(path: files.state), snap.pid == child.pid,
                snap.instances.count == expected,
                snap.instances.allSatisfy({ $0.phase == "running" || $0.phase == "failed" })
            {
                report(pid: child.pid, files: files, snapshot: snap)
                if !snap.failedRoles.isEmpty {
                    throw CLIFailure(
                        "the supervisor runs, but these roles failed to start: \(snap.failedRoles.joined(separator: ", ")) "
                            + "(see \(files.logs))", code: 1)
                }
                return
            }
            if ContinuousClock.now > deadline {
                throw CLIFailure(
                    "the supervisor (pid \(child.pid)) runs, but not every role heartbeats yet; see planbus ps and \(files.log)",
                    code: 1)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func report(pid: Int32, files: SupervisorFiles, snapshot: SupervisorSnapshot) {
        if json {
            emit(
                JSONValue.object([
                    "pid": .number(Double(pid)), "log": .string(files.log), "state": .string(files.state),
                    "instances": .number(Double(snapshot.instances.count)),
                    "failed_roles": .array(snapshot.failedRoles.map(JSONValue.string)),
                ]).serialized())
        } else {
            emit("supervisor running in the background: pid \(pid), log \(files.log)")
            emit(
                "\(snapshot.instances.count) role instances heartbeating; planbus ps shows them, planbus down stops them"
            )
        }
    }

    /// This program's own path, which role processes are started from.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// The lines of a text file (empty when missing).
func textLines(of path: String) -> [String] {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}
