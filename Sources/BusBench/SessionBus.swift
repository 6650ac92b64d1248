import Bus
import Launcher
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// One scratch session of the session benchmark: a folder with a `planbus.yaml`, its bus, and
/// the `planbus up` process that supervises the bench role (``BenchRole``) on it.
///
/// The configuration is written by the benchmark, and the bus created from it before `up`
/// starts, so `up` finds the settings already in `bus.json`.
struct SessionBus: Sendable {
    /// The role the bench runs.
    static let role = "bench"
    /// The run the bench's envelopes belong to.
    static let run = "bench-session"

    /// The session's folder (config, logs, markers and gates).
    let folder: String
    /// The `planbus.yaml` written for this session.
    let config: String
    /// The bus.
    let bus: Bus
    /// Where the bench role creates its claim markers.
    let markers: String
    /// The supervisor's files on this host.
    let files: SupervisorFiles
    /// The `planbus` executable.
    let executable: String
    /// How many instances of the role the configuration runs.
    let instances: Int

    /// Writes the configuration into `folder` and creates the bus.
    /// - Parameters:
    ///   - folder: an empty folder.
    ///   - executable: the `planbus` executable, for `up` and for the role's command.
    ///   - instances: instances of the bench role.
    ///   - busSettings: `bus_settings` lines, as `key: value`.
    ///   - supervisor: `supervisor` lines, as `key: value`.
    ///   - args: extra arguments of the role's command line.
    init(
        folder: String, executable: String, instances: Int, busSettings: [String], supervisor: [String],
        args: [String] = []
    ) throws {
        self.folder = folder
        self.executable = executable
        self.instances = instances
        config = folder + "/planbus.yaml"
        markers = folder + "/markers"
        let busPath = folder + "/bus"
        func quoted(_ text: String) -> String { JSONValue.string(text).serialized() }
        func list(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ", ") + "]" }
        var lines = [
            "# Written by planbus bench session.", "version: 1", "bus: \(quoted(busPath))",
            "repository: \(quoted(folder))",
        ]
        lines += busSettings.isEmpty ? [] : ["bus_settings:"] + busSettings.map { "  " + $0 }
        lines += supervisor.isEmpty ? [] : ["supervisor:"] + supervisor.map { "  " + $0 }
        lines += [
            "roles:", "  \(Self.role):", "    instances: \(instances)",
            "    command: \(list([executable, "bench", "session-role"]))", "    args: \(list(args))",
        ]
        bus = try Self.makeBus(
            at: busPath, config: config, lines: lines, folder: folder, making: markers, roles: [Self.role])
        files = SupervisorFiles(layout: bus.layout)
    }

    /// Writes a benchmark's `planbus.yaml` (`lines`) into `folder`, makes the folder `making`,
    /// and creates the bus with the settings the file gives, as `planbus up` would read them.
    static func makeBus(
        at busPath: String, config: String, lines: [String], folder: String, making: String, roles: [String]
    ) throws -> Bus {
        do {
            try FileOps.makeDirectories(making, mode: 0o700)
            try FileOps.writeAtomically(
                Array((lines.joined(separator: "\n") + "\n").utf8), to: config, stagingDirectory: folder, mode: 0o600,
                durable: false)
        } catch {
            throw BenchError(.io, error.description)
        }
        let loaded = try ConfigLoader.load(path: config)
        let settings = loaded.busSettings.applied(to: BusSettings())
        return try Bus.create(at: busPath, settings: settings, roles: roles).bus
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

    /// The supervisor's `state.json`, when written.
    var snapshot: SupervisorSnapshot? { SupervisorSnapshot.read(path: files.state) }

    /// The pids of the instances `state.json` shows `running`, when it shows all of them so,
    /// written by the supervisor `pid`.
    func runningPids(supervisor pid: Int32) -> [Int32]? {
        guard let snap = snapshot, snap.pid == pid, snap.instances.count == instances,
            snap.instances.allSatisfy({ $0.phase == "running" && $0.pid != nil })
        else { return nil }
        return snap.instances.compactMap(\.pid)
    }

    /// How many heartbeat files the role's folder `hb/<role>/` holds.
    var heartbeatFiles: Int { DirectoryScan.countVisible(bus.layout.heartbeats(Self.role)) }

    /// Publishes a `bench-work` envelope to the role, and returns its id.
    func publish(body: [String: JSONValue]) throws -> String {
        let worker = try WorkerID.current(role: "bench-session")
        let envelope = Envelope(run: Self.run, kind: BenchRole.kind, from: worker, to: Self.role, body: body)
        _ = try Publisher(bus: bus, worker: worker).publish(envelope)
        return envelope.id
    }

    /// The pid of the process whose claim of `id` at `epoch` left a marker, once one has.
    func claimer(of id: String, epoch: Int) -> Int32? {
        let prefix = id + ".e\(epoch)."
        let names = (try? FileOps.list(markers)) ?? []
        return names.lazy.filter { $0.hasPrefix(prefix) }.compactMap { BenchRole.parseMarker($0)?.pid }.first
    }

    /// The epoch `id` was acked at, once it is in `done/`.
    func doneEpoch(of id: String) -> Int? {
        let day = bus.layout.done(Self.role, day: QueueNames.day(of: id))
        let names = (try? FileOps.list(day)) ?? []
        return names.lazy.compactMap { QueueNames.parsePending($0) }.first { $0.id == id }?.epoch
    }

    /// The journal's events of `id`.
    func events(of id: String) -> [JournalEvent] {
        JournalReader(layout: bus.layout).events(run: Self.run).filter { $0.id == id }
    }

    /// Stops the supervisor `up` with SIGTERM and waits for it to exit; SIGKILLs it (its roles die
    /// with it) after `timeout`. Returns how long the graceful stop took, or `nil` if it had to be
    /// killed.
    func stop(_ up: ChildProcess, timeout: Duration) async -> Duration? {
        let clock = ContinuousClock()
        let start = clock.now
        up.send(SIGTERM)
        if let stopped = await pollUntil(timeout: timeout, { up.exitStatus != nil }) { return stopped - start }
        up.send(SIGKILL)
        _ = await up.wait()
        return nil
    }

    /// The last `count` lines of the supervisor's output and of the instance logs, for an error
    /// message.
    func logTail(_ count: Int = 8) -> String {
        var out: [String] = []
        for path in [upLog] + (0..<instances).map({ files.log(role: Self.role, instance: $0) }) {
            guard case .bytes(let bytes) = FileOps.readRegular(path, limit: 1 << 20) else { continue }
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").suffix(count)
            if !lines.isEmpty { out.append("\(path):\n  " + lines.joined(separator: "\n  ")) }
        }
        return out.joined(separator: "\n")
    }
}

/// Checks `condition` every `interval` until it holds or `timeout` has passed.
/// - Returns: the instant it was first seen to hold, or `nil` on time-out or cancellation.
func pollUntil(
    timeout: Duration, every interval: Duration = .milliseconds(2), _ condition: () -> Bool
) async -> ContinuousClock.Instant? {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        if condition() { return clock.now }
        if clock.now >= deadline { return nil }
        do {
            try await Task.sleep(for: interval)
        } catch {
            return nil
        }
    }
}
