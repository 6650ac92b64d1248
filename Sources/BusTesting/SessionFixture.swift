import Bus
import Foundation
import Launcher
import Processes
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary folder with a `planbus.yaml`, its bus, and a `planbus up` supervisor process that
/// tests start, signal and stop.
///
/// The bus runs with ``BusSettings/testing`` timings (100 ms heartbeats, a 1 s lease). Roles are
/// given as YAML under `roles:`; ``testingRole(_:extra:)`` makes one that runs the testing role of
/// `PlanbusTestWorker`, which records what it does in ``out``.
public final class SessionFixture: Sendable {
    /// The temporary folder.
    public let root: String
    /// The configuration file.
    public let config: String
    /// The opened bus.
    public let bus: Bus
    /// The file the testing roles append their lines to.
    public let out: String
    /// The gate folder: a `task` envelope with `"action": "gate"` waits for `gates/<id>`.
    public let gates: String
    /// Supervisors started by ``up(_:)``, killed when the fixture goes (a test that stops early
    /// must not leave one behind; their roles die with them).
    private let supervisors = Mutex<[ChildProcess]>([])

    /// Creates the folder, the configuration (with `roles` as the YAML of the `roles:` mapping,
    /// indented by two spaces) and the bus.
    public init(roles: String, supervisor: String = "", settings: String = "") async throws {
        root = FileManager.default.temporaryDirectory.path + "/planbus-session-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root + "/gates", withIntermediateDirectories: true)
        config = root + "/planbus.yaml"
        out = root + "/out.txt"
        gates = root + "/gates"
        let yaml = """
            version: 1
            bus: bus
            bus_settings:
              durable: false
              heartbeat: 100ms
              lease: 1s
              retry_base: 50ms
              retry_cap: 200ms
              janitor: 100ms
              poll: 50ms
            \(settings)
            supervisor:
            \(Self.merged(defaults: Self.supervisorDefaults, with: supervisor))
            roles:
            \(roles)
            """
        try yaml.replacingOccurrences(of: "@OUT@", with: out).write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await runCommand([Executables.planbus, "init", "--config", config, "--json"])
        guard result.code == 0 else {
            try? FileManager.default.removeItem(atPath: root)
            throw FixtureError("planbus init failed: \(result.stderr)")
        }
        bus = try Bus.open(at: root + "/bus")
    }

    static let supervisorDefaults = [
        "  restart_backoff: 100ms", "  restart_backoff_max: 1s", "  stop_grace: 3s", "  start_timeout: 10s",
    ]

    /// The `defaults` lines (`  key: value`) whose keys `extra` does not set, then `extra`.
    static func merged(defaults: [String], with extra: String) -> String {
        let given = Set(extra.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) })
        let kept = defaults.filter { line in !given.contains(String(line.split(separator: ":")[0])) }
        return (kept + extra.split(separator: "\n").map(String.init)).joined(separator: "\n")
    }

    deinit {
        for supervisor in supervisors.withLock({ $0 }) { supervisor.send(SIGKILL) }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The YAML of a role that runs the testing role, with `extra` lines (indented 4 spaces). It
    /// appends its lines to ``out``.
    public static func testingRole(_ name: String, instances: Int = 1, extra: String = "") -> String {
        var text = """
              \(name):
                instances: \(instances)
                command: ["\(Executables.testWorker)", "role", "--out", "@OUT@"]
            """
        if !extra.isEmpty { text += "\n" + extra }
        return text
    }

    /// Starts `planbus up --lines` with this configuration; its output goes to `root/up.log`.
    public func up(_ extra: [String] = []) throws -> ChildProcess {
        let child = try ChildProcess.spawn(
            [Executables.planbus, "up", "--lines", "--config", config] + extra, directory: root,
            stdout: .file(root + "/up.log"), stderr: .file(root + "/up.log"))
        supervisors.withLock { $0.append(child) }
        return child
    }

    /// The planner's `runs/<run>/status.json`, once written and while it parses.
    public func runStatus(_ run: String) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: bus.layout.run(run) + "/status.json") else {
            return nil
        }
        return try? JSONValue.parse(Array(data))
    }

    /// Runs a `planbus` command with this configuration.
    public func planbus(_ arguments: String...) async throws -> CommandResult {
        try await runCommand([Executables.planbus] + arguments + ["--config", config], directory: root)
    }

    /// The supervisor's state file, if written.
    public var snapshot: SupervisorSnapshot? {
        SupervisorSnapshot.read(path: SupervisorFiles(layout: bus.layout).state)
    }

    /// The running pid of `role`'s instance `instance` per the supervisor, once it heartbeats.
    public func runningPid(_ role: String, instance: Int = 0) -> Int32? {
        snapshot?.instances.first { $0.role == role && $0.instance == instance && $0.phase == "running" }?.pid
    }

    /// Publishes an envelope of `kind` with `body` to `role`.
    @discardableResult
    public func send(to role: String, kind: String = "task", body: [String: JSONValue] = [:], run: String = "r1")
        throws -> String
    {
        let worker = try WorkerID.current(role: "tester")
        let envelope = Envelope(run: run, kind: kind, from: worker, to: role, body: body)
        try Publisher(bus: bus, worker: worker).publish(envelope)
        return envelope.id
    }

    /// True once `id` is in `role`'s `done/` and its ack is in the journal of `run` (the journal
    /// line follows the rename into `done/`).
    public func isDone(_ id: String, role: String, run: String = "r1") -> Bool {
        let days = (try? FileManager.default.contentsOfDirectory(atPath: bus.layout.done(role))) ?? []
        let inDone = days.contains { day in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: bus.layout.done(role, day: day))) ?? []
            return names.contains { $0.hasPrefix(id + ".") }
        }
        return inDone && events(id, run: run).contains { $0.event == .ack }
    }

    /// The journal events of run `run` for `id`.
    public func events(_ id: String, run: String = "r1") -> [JournalEvent] {
        JournalReader(layout: bus.layout).events(run: run).filter { $0.id == id }
    }

    /// The lines the testing roles wrote.
    public var outLines: [String] { lines(of: out) }

    /// Opens the gate of envelope `id`.
    public func openGate(_ id: String) {
        _ = FileManager.default.createFile(atPath: gates + "/" + id, contents: Data())
    }

    /// Pids of live processes (the supervisor and role processes) whose command line or
    /// environment names this fixture's folder.
    public func liveProcesses() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != getpid(), isLive(pid), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            let cmdline = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ").map {
                String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            }
            return cmdline.contains(root) || (env?.contains("PLANBUS_BUS=\(root)/bus") ?? false)
        }
    }
}

/// True when `pid` is a process that has not exited (a zombie has).
public func isLive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return !stat[close...].hasPrefix(") Z") && !stat[close...].hasPrefix(") X")
}

/// A fixture that could not be set up.
public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
