import Bus
import Foundation
import Launcher
import Processes
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// One scratch session of the run benchmark: a folder with a git repository, a plan, a
/// `planbus.yaml` running the product roles (with `builders` builder instances), its bus, and the
/// `planbus up` process that supervises them.
///
/// The bus keeps its default settings (durable, heartbeat 2 s, lease 15 s, inotify wake-ups), as
/// a user's would, unless the benchmark gives `bus_settings` lines.
struct RunSession: Sendable {
    /// The session's folder.
    let folder: String
    /// The git repository the plan changes.
    let repository: String
    /// The `planbus.yaml`.
    let config: String
    /// The plan file.
    let planFile: String
    /// The bus.
    let bus: Bus
    /// The supervisor's files on this host.
    let files: SupervisorFiles
    /// The `planbus` executable.
    let executable: String
    /// How many role processes the configuration runs.
    let instances: Int

    /// Writes the configuration into `folder` (an empty folder) and creates the bus.
    /// - Parameters:
    ///   - busSettings: `bus_settings` lines, as `key: value` (none: the defaults).
    ///   - supervisor: `supervisor` lines, as `key: value`, replacing the defaults they name.
    init(
        folder: String, executable: String, builders: Int, verifiers: Int, busSettings: [String] = [],
        supervisor: [String] = []
    ) throws {
        self.folder = folder
        self.executable = executable
        repository = folder + "/repo"
        config = folder + "/planbus.yaml"
        planFile = folder + "/plan.yaml"
        let busPath = folder + "/bus"
        func quoted(_ text: String) -> String { JSONValue.string(text).serialized() }
        let roles: [(String, Int)] = [
            ("planner", 1), ("builder", builders), ("verifier", verifiers), ("judge", 1), ("docs", 1),
        ]
        instances = roles.reduce(0) { $0 + $1.1 }
        let given = Set(supervisor.compactMap { $0.split(separator: ":").first.map(String.init) })
        let supervising = ["stop_grace: 5s", "start_timeout: 1m"].filter {
            !given.contains(String($0.prefix { $0 != ":" }))
        }
        var lines = [
            "# Written by planbus bench run.", "version: 1", "bus: \(quoted(busPath))",
            "repository: \(quoted(repository))",
        ]
        lines += busSettings.isEmpty ? [] : ["bus_settings:"] + busSettings.map { "  " + $0 }
        lines += ["supervisor:"] + (supervising + supervisor).map { "  " + $0 } + ["roles:"]
        for (role, count) in roles { lines += ["  \(role):", "    instances: \(count)"] }
        bus = try SessionBus.makeBus(
            at: busPath, config: config, lines: lines, folder: folder, making: repository, roles: Bus.productRoles)
        files = SupervisorFiles(layout: bus.layout)
    }

    /// Makes the repository (one commit on `main`) and writes the plan.
    func prepare(tasks: Int, stepSeconds: Double) async throws {
        do {
            _ = try await Git.create(at: repository, files: [("README", "planbus bench run\n")], message: "start")
        } catch {
            throw BenchError(.unexpectedState, "cannot make the repository \(repository): \(error.message)")
        }
        let plan = RunPlanText.plan(
            name: "bench \(tasks) tasks", repository: repository, tasks: tasks, stepSeconds: stepSeconds)
        try write(plan, to: planFile)
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try FileOps.writeAtomically(
                Array(text.utf8), to: path, stagingDirectory: folder, mode: 0o644, durable: false)
        } catch {
            throw BenchError(.io, error.description)
        }
    }

    /// Starts `planbus up --lines` on this session, its output in `up.log`. It dies with this
    /// process.
    func up() throws -> ChildProcess {
        try ChildProcess.spawn(
            [executable, "up", "--lines", "--config", config, "--bus", bus.layout.root], directory: folder,
            stdout: .file(upLog), stderr: .file(upLog), diesWithParent: true)
    }

    /// The supervisor's output.
    var upLog: String { folder + "/up.log" }

    /// True when `state.json`, written by the supervisor `pid`, shows every instance running.
    func allRunning(supervisor pid: Int32) -> Bool {
        guard let snap = SupervisorSnapshot.read(path: files.state), snap.pid == pid,
            snap.instances.count == instances
        else { return false }
        return snap.instances.allSatisfy { $0.phase == "running" && $0.pid != nil }
    }

    /// Spawns `planbus submit PLAN --run RUN --json` and waits for it.
    /// - Throws: ``BenchError`` `process` when it does not exit 0.
    func submit(run: String) async throws -> ProgramRun {
        let result = try await ProgramRun.run(
            [executable, "submit", planFile, "--run", run, "--json", "--config", config], directory: folder,
            timeout: .seconds(120))
        guard result.succeeded else {
            throw BenchError(
                .process, "planbus submit ended with \(result.exit.map { "\($0)" } ?? "a time-out"): \(result.stderr)")
        }
        return result
    }

    /// The run's `status.json`.
    func statusPath(run: String) -> String { bus.layout.run(run) + "/status.json" }

    /// The journal's events of `run`.
    func events(run: String) -> [JournalEvent] {
        JournalReader(layout: bus.layout).events(run: run)
    }

    /// Per task, the step's seconds of its last attempt that `builder.log` records.
    func stepSeconds(run: String, tasks: Int) -> [String: Double] {
        var out: [String: Double] = [:]
        for index in 0..<tasks {
            let id = RunPlanText.taskID(index, of: tasks)
            let folder = bus.layout.run(run) + "/\(id)"
            let attempts = ((try? FileOps.list(folder)) ?? []).compactMap(Int.init).sorted()
            guard let last = attempts.last,
                case .bytes(let bytes) = FileOps.readRegular(folder + "/\(last)/builder.log", limit: 1 << 20),
                let seconds = RunStepLog.stepSeconds(String(decoding: bytes, as: UTF8.self))
            else { continue }
            out[id] = seconds
        }
        return out
    }

    /// Stops the supervisor with SIGTERM and waits for it; SIGKILLs it (its roles die with it)
    /// after `timeout`.
    func stop(_ up: ChildProcess, timeout: Duration) async {
        up.send(SIGTERM)
        if await pollUntil(timeout: timeout, every: .milliseconds(10), { up.exitStatus != nil }) != nil { return }
        up.send(SIGKILL)
        _ = await up.wait()
    }

    /// The last `count` lines of the supervisor's output, for an error message.
    func logTail(_ count: Int = 12) -> String {
        guard case .bytes(let bytes) = FileOps.readRegular(upLog, limit: 1 << 20) else { return "" }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").suffix(count)
        return lines.isEmpty ? "" : "\(upLog):\n  " + lines.joined(separator: "\n  ")
    }
}
