import Bus
import FileFormats
import Foundation
import Logging
import Processes
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// The supervisor's state machine: which instance runs, which waits, which is hung or failed.
///
/// Driven by the ``Supervisor`` loop with ticks and exit events, all on one task; it asks for
/// spawns through ``takeSpawnRequests()`` and never blocks.
struct SupervisorState {
    /// A process to start.
    struct SpawnRequest {
        var role: String
        var instance: Int
        var arguments: [String]
        var environment: [String: String]
        var directory: String?
        var log: String
    }

    private(set) var config: PlanbusConfig
    private let bus: Bus
    private let files: SupervisorFiles
    private let options: Supervisor.Options
    private let logger: Logger
    private var slots: [InstanceSlot] = []
    private var restartTimes: [String: [ContinuousClock.Instant]] = [:]
    private var failedRoles: Set<String> = []
    private var handledRestarts: Set<String> = []
    private var spawnRequests: [SpawnRequest] = []
    /// Each role's `--agent-settings`, fixed at its first spawn and changed only by a restart of
    /// the role, so a re-spawn after a crash drives exactly what the role drove before.
    private var agentSettings: [String: String] = [:]
    private(set) var shuttingDown = false
    /// What is wrong with the bus folder as a whole, as last looked at (every tick). While it is
    /// full or read-only, no role is judged hung (its heartbeat cannot be written) and none is
    /// (re-)spawned; roles that run keep running and back off by themselves.
    private(set) var busProblem: BusProblem?
    /// Why the supervisor stopped on its own, when that is an error (the bus folder is gone):
    /// ``Supervisor/run()`` throws it once every role has stopped.
    private(set) var failure: LauncherError?
    private let started = Timestamp.now()
    private var lastWritten: JSONValue?
    private var lastWriteAt: ContinuousClock.Instant?
    private var lastRenderAt: ContinuousClock.Instant?

    init(
        config: PlanbusConfig, bus: Bus, files: SupervisorFiles, options: Supervisor.Options, logger: Logger,
        now: ContinuousClock.Instant
    ) {
        self.config = config
        self.bus = bus
        self.files = files
        self.options = options
        self.logger = logger
        for role in config.roles {
            for i in 0..<role.instances {
                var slot = InstanceSlot(role: role.name, instance: i)
                slot.phase = .backoff(until: now)
                slots.append(slot)
            }
        }
        // Restart requests already on the bus were for earlier supervisors.
        for role in config.roles {
            if let id = Self.requestID(at: files.restartRequest(role.name)) { handledRestarts.insert(id) }
        }
    }

    /// True once shutting down and every process has exited.
    var finished: Bool { shuttingDown && !slots.contains { $0.hasProcess } }

    /// Removes `ctl/stop` and this host's failed markers: they concern the previous session.
    mutating func clearStaleMarkers() {
        if FileManager.default.fileExists(atPath: files.stopAll) {
            FileOps.removeFile(files.stopAll)
            report("removed \(files.stopAll) left by planbus down")
        }
        for role in config.roles { FileOps.removeFile(files.failed(role.name)) }
    }

    // MARK: - Events

    mutating func tick(now: ContinuousClock.Instant) {
        lookAtTheBus(now: now)
        if busProblem != .missing { readControlFiles(now: now) }
        for index in slots.indices { check(index, now: now) }
    }

    /// Looks at the bus folder as a whole (two system calls, see ``BusProblem/check(_:)``) and
    /// reports each change. A bus folder that is gone stops every role, and the supervisor with
    /// an error: its queues, journals and this supervisor's own files went with it, so there is
    /// nothing to go on with. A full or read-only one pauses supervision until it takes writes
    /// again.
    private mutating func lookAtTheBus(now: ContinuousClock.Instant) {
        let problem = BusProblem.check(bus.layout)
        guard problem != busProblem else { return }
        let root = bus.layout.root
        let before = busProblem
        busProblem = problem
        switch problem {
        case .missing?:
            guard !shuttingDown else { return }
            let message =
                "\(BusProblem.missing.headline(root: root)): every role was stopped; "
                + BusProblem.missing.advice(root: root)
            failure = LauncherError(.notFound, message)
            report(message)
            beginShutdown(reason: "the bus folder is gone", now: now)
        case let problem?:
            report(
                "\(problem.headline(root: root)): the roles keep running and back off; none is judged hung or "
                    + "started until the bus takes writes again; \(problem.advice(root: root))")
        case nil:
            report(
                "the bus takes writes again (\(root)) after being \(before?.rawValue ?? "unavailable"): supervision goes on"
            )
            // Heartbeats could not be written meanwhile: judge every instance afresh from now.
            for index in slots.indices {
                slots[index].seqChangedAt = now
                slots[index].progressChangedAt = now
                if case .starting = slots[index].phase { slots[index].spawnedAt = now }
            }
        }
    }

    mutating func exited(
        role: String, instance: Int, generation: Int, exit: ChildProcess.Exit, now: ContinuousClock.Instant
    ) {
        guard let index = slotIndex(role, instance), slots[index].generation == generation else { return }
        var slot = slots[index]
        slot.child = nil
        slot.heartbeat = nil
        slot.heartbeatPath = nil
        slot.lastExit = exit.description
        let uptime = now - slot.spawnedAt
        defer { slots[index] = slot }
        switch slot.phase {
        case .stopping(let reason, _, _):
            switch reason {
            case .shutdown:
                slot.phase = .stopped
                report("\(slot.label) stopped (\(exit))")
            case .failed:
                slot.phase = .failed
                report("\(slot.label) stopped (\(exit)); role \(role) is failed")
            case .restart:
                slot.phase = .backoff(until: now)
                slot.nextBackoff = nil
                report("\(slot.label) stopped for restart (\(exit))")
            case .requested:
                if roleStopRequested(role) || shuttingDown {
                    slot.phase = .stopped
                    report("\(slot.label) stopped by a stop file (\(exit))")
                } else {
                    slot.phase = .backoff(until: now)
                    report("\(slot.label) stopped by a stop file naming it (\(exit)); starting a new one")
                }
            case .hung:
                report("\(slot.label) hung process ended (\(exit)); re-spawning")
                slots[index] = slot
                restartAfterFailure(index, now: now, immediately: true)
                slot = slots[index]
            }
        default:
            if exit == .exited(0), shuttingDown || roleStopRequested(role) {
                slot.phase = .stopped
                report("\(slot.label) stopped by a stop file (\(exit))")
                return
            }
            report("\(slot.label) died (\(exit)) after \(Self.format(uptime))")
            if uptime >= config.supervisor.stableAfter { slot.nextBackoff = nil }
            slots[index] = slot
            restartAfterFailure(index, now: now, immediately: false)
            slot = slots[index]
        }
    }

    mutating func beginShutdown(reason: String, now: ContinuousClock.Instant) {
        guard !shuttingDown else { return }
        shuttingDown = true
        report("stopping every role (\(reason))")
        for index in slots.indices {
            if slots[index].hasProcess {
                stop(index, reason: .shutdown, now: now)
            } else if case .failed = slots[index].phase {
                continue
            } else {
                slots[index].phase = .stopped
            }
        }
    }

    mutating func takeSpawnRequests() -> [SpawnRequest] {
        defer { spawnRequests = [] }
        return spawnRequests
    }

    mutating func spawned(role: String, instance: Int, child: ChildProcess, now: ContinuousClock.Instant) {
        guard let index = slotIndex(role, instance) else { return }
        slots[index].child = child
        slots[index].generation += 1
        slots[index].spawnedAt = now
        slots[index].processStart = ProcessInfo.startTime(of: child.pid)
        slots[index].phase = .starting
        slots[index].heartbeat = nil
        slots[index].heartbeatPath = nil
        report("\(slots[index].label) started, pid \(child.pid)")
    }

    mutating func spawnFailed(role: String, instance: Int, error: String, now: ContinuousClock.Instant) {
        guard let index = slotIndex(role, instance) else { return }
        slots[index].lastExit = "spawn failed: \(error)"
        report("\(slots[index].label) could not start: \(error)")
        restartAfterFailure(index, now: now, immediately: false)
    }

    func generation(role: String, instance: Int) -> Int {
        slotIndex(role, instance).map { slots[$0].generation } ?? 0
    }

    // MARK: - Checks

    private mutating func check(_ index: Int, now: ContinuousClock.Instant) {
        let slot = slots[index]
        switch slot.phase {
        case .backoff(let until):
            guard !shuttingDown, !failedRoles.contains(slot.role), now >= until, busProblem == nil else { return }
            if roleStopRequested(slot.role) {
                slots[index].phase = .stopped
                report("\(slot.label) not started: ctl/stop.\(slot.role) asks the role to stop")
                return
            }
            requestSpawn(index)
        case .starting, .running:
            guard slot.child != nil else { return }
            observeHeartbeat(index, now: now)
            // A heartbeat cannot be written to a full or read-only bus: that is no sign of a hang.
            guard busProblem == nil else { return }
            let updated = slots[index]
            let role = config.role(slot.role)
            if updated.heartbeat == nil {
                if now - updated.spawnedAt > config.supervisor.startTimeout {
                    report(
                        "\(slot.label) wrote no heartbeat within \(Self.format(config.supervisor.startTimeout)): hung")
                    stop(index, reason: .hung, now: now)
                }
                return
            }
            if case .starting = updated.phase { slots[index].phase = .running }
            let limit = role?.timeouts.hang ?? .milliseconds(bus.settings.leaseMs)
            let state = updated.heartbeat?.state
            if state == .stopping || state == .stopped {
                // Stopping by itself (a stop file): it gets its grace, then SIGKILL like any stop.
                let grace = role?.timeouts.stopGrace ?? config.supervisor.stopGrace
                slots[index].phase = .stopping(
                    reason: .requested, deadline: now + grace + Self.killMargin, killed: false)
                return
            }
            if now - updated.progressChangedAt > limit {
                report("\(slot.label) made no progress for \(Self.format(limit)): hung; sending SIGTERM")
                stop(index, reason: .hung, now: now)
            }
        case .stopping(let reason, let deadline, let killed):
            if !killed, now >= deadline, let child = slot.child {
                report("\(slot.label) still running after its stop grace; sending SIGKILL to its process group")
                child.sendToGroup(SIGKILL)
                slots[index].phase = .stopping(reason: reason, deadline: deadline, killed: true)
            } else if slot.child != nil {
                observeHeartbeat(index, now: now)
            }
        case .failed, .stopped:
            return
        }
    }

    private mutating func observeHeartbeat(_ index: Int, now: ContinuousClock.Instant) {
        guard let pid = slots[index].child?.pid else { return }
        if slots[index].heartbeatPath == nil {
            slots[index].heartbeatPath = Self.findHeartbeat(
                layout: bus.layout, role: slots[index].role, pid: pid, processStart: slots[index].processStart)
        }
        guard let path = slots[index].heartbeatPath else { return }
        if let hb = Heartbeat.read(path: path) {
            slots[index].observe(hb, now: now)
        }
    }

    /// The heartbeat file of the child `pid` of `role`, if it has written one: a file of
    /// `hb/<role>/` whose worker id has that pid (under any host name, since a role may be run
    /// under another) and whose `boot_id` and `process_start` are this boot's and this process's,
    /// so an old heartbeat of an earlier process with the same pid is never taken for it.
    static func findHeartbeat(layout: BusLayout, role: String, pid: Int32, processStart: Int64?) -> String? {
        let directory = layout.heartbeats(role)
        let names = (try? FileOps.list(directory)) ?? []
        let wanted = "\(pid)"
        for name in names where name.hasSuffix(".json") {
            let parts = name.dropLast(5).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4, parts[0] == role, parts[2] == wanted,
                let hb = Heartbeat.read(path: directory + "/" + name)
            else { continue }
            let sameBoot = hb.bootID.isEmpty || hb.bootID == Host.bootID
            let sameProcess = hb.processStart == 0 || processStart == nil || hb.processStart == processStart
            if sameBoot && sameProcess { return directory + "/" + name }
        }
        return nil
    }

    private mutating func stop(_ index: Int, reason: InstanceSlot.StopReason, now: ContinuousClock.Instant) {
        guard let child = slots[index].child else { return }
        let grace = config.role(slots[index].role)?.timeouts.stopGrace ?? config.supervisor.stopGrace
        child.sendToGroup(SIGTERM)
        // The role's own grace ends first: it releases its envelope and exits before the SIGKILL.
        slots[index].phase = .stopping(reason: reason, deadline: now + grace + Self.killMargin, killed: false)
    }

    /// Counts a restart of the slot's role; marks the role failed past the intensity, or
    /// schedules a re-spawn after the backoff.
    private mutating func restartAfterFailure(_ index: Int, now: ContinuousClock.Instant, immediately: Bool) {
        let role = slots[index].role
        if shuttingDown {
            slots[index].phase = .stopped
            return
        }
        if failedRoles.contains(role) {
            slots[index].phase = .failed
            return
        }
        let policy = config.supervisor
        var times = restartTimes[role, default: []].filter { now - $0 < policy.restartPeriod }
        times.append(now)
        restartTimes[role] = times
        if times.count > policy.restartIntensity {
            markFailed(role, now: now)
            return
        }
        let delay = immediately ? .zero : (slots[index].nextBackoff ?? policy.restartBackoff)
        slots[index].nextBackoff = min(
            (slots[index].nextBackoff ?? policy.restartBackoff) * 2, policy.restartBackoffMax)
        slots[index].restarts += 1
        slots[index].phase = .backoff(until: now + delay)
        if delay > .zero { report("\(slots[index].label) re-spawns in \(Self.format(delay))") }
    }

    private mutating func markFailed(_ role: String, now: ContinuousClock.Instant) {
        failedRoles.insert(role)
        let policy = config.supervisor
        let lastExit = slots.first { $0.role == role && $0.lastExit != nil }?.lastExit ?? "unknown"
        let body: JSONValue = [
            "role": .string(role), "host": .string(files.host), "at": .string(Timestamp.now().description),
            "reason": .string(
                "more than \(policy.restartIntensity) restarts within \(Self.format(policy.restartPeriod))"),
            "last_exit": .string(lastExit),
        ]
        try? FileOps.writeAtomically(
            Array((body.serialized() + "\n").utf8), to: files.failed(role), stagingDirectory: bus.layout.tmp,
            mode: Bus.fileMode, durable: false)
        report(
            "role \(role) FAILED: more than \(policy.restartIntensity) restarts within \(Self.format(policy.restartPeriod)); "
                + "the other roles go on (planbus restart \(role) tries again)")
        for index in slots.indices where slots[index].role == role {
            if slots[index].hasProcess {
                stop(index, reason: .failed, now: now)
            } else {
                slots[index].phase = .failed
            }
        }
    }

    private mutating func requestSpawn(_ index: Int) {
        let slot = slots[index]
        guard let role = config.role(slot.role) else { return }
        var arguments: [String]
        if let command = role.command {
            arguments = command + role.args
        } else {
            // The settings go on the command line, so a re-spawn after a crash runs with the same
            // configuration as before (an edited file applies at planbus restart).
            arguments = [
                options.roleExecutable, "role", role.name, "--instance", "\(slot.instance)", "--bus", config.bus,
                "--agent", role.agent, "--envelope-timeout", DurationText.format(role.timeouts.envelope),
                "--stop-grace", DurationText.format(role.timeouts.stopGrace ?? config.supervisor.stopGrace),
            ]
            if let model = role.model { arguments += ["--model", model] }
            if agentSettings[role.name] == nil {
                agentSettings[role.name] = config.agentSettings(for: role.name).json.serialized()
            }
            arguments += ["--agent-settings", agentSettings[role.name] ?? "{}"]
            if role.name == "planner", let backlog = config.backlog { arguments += ["--backlog", backlog] }
            arguments += role.args
        }
        var environment = Foundation.ProcessInfo.processInfo.environment
        for (key, value) in role.env { environment[key] = value }
        environment["PLANBUS_BUS"] = config.bus
        environment["PLANBUS_ROLE"] = role.name
        environment["PLANBUS_INSTANCE"] = "\(slot.instance)"
        environment["PLANBUS_AGENT"] = role.agent
        environment["PLANBUS_MODEL"] = role.model ?? ""
        environment["PLANBUS_ENVELOPE_TIMEOUT_MS"] = "\(role.timeouts.envelope.milliseconds)"
        environment["PLANBUS_STOP_GRACE_MS"] =
            "\((role.timeouts.stopGrace ?? config.supervisor.stopGrace).milliseconds)"
        environment["PLANBUS_SUPERVISOR_PID"] = "\(getpid())"
        if let file = config.file { environment["PLANBUS_CONFIG"] = file } else { environment["PLANBUS_CONFIG"] = nil }
        var isDirectory: ObjCBool = false
        let directory =
            FileManager.default.fileExists(atPath: config.repository, isDirectory: &isDirectory)
                && isDirectory.boolValue
            ? config.repository : nil
        spawnRequests.append(
            SpawnRequest(
                role: role.name, instance: slot.instance, arguments: arguments, environment: environment,
                directory: directory, log: files.log(role: role.name, instance: slot.instance)))
        // Not spawned twice: the request is taken this turn of the loop.
        slots[index].phase = .starting
    }

    // MARK: - Control files

    private mutating func readControlFiles(now: ContinuousClock.Instant) {
        let present = Set((try? FileOps.list(bus.layout.ctl)) ?? [])
        if present.contains("stop") {
            beginShutdown(reason: "ctl/stop", now: now)
        }
        guard !shuttingDown else { return }
        for role in config.roles.map(\.name) where present.contains("restart." + role) {
            guard let id = Self.requestID(at: files.restartRequest(role)), !handledRestarts.contains(id) else {
                continue
            }
            handledRestarts.insert(id)
            restart(role, now: now)
        }
    }

    /// Re-reads the configuration for `role` and re-spawns its instances.
    private mutating func restart(_ role: String, now: ContinuousClock.Instant) {
        if let file = config.file {
            do {
                let fresh = try ConfigLoader.load(path: file)
                if let updated = fresh.role(role), let at = config.roles.firstIndex(where: { $0.name == role }) {
                    config.roles[at] = updated
                }
                // The agents section too (endpoints, prices, limits): the restarted role drives
                // what the file says now.
                config.agents = fresh.agents
                agentSettings[role] = nil
            } catch {
                report("restart \(role): keeping the running configuration, \(file) is invalid: \(error)")
            }
        }
        failedRoles.remove(role)
        restartTimes[role] = []
        FileOps.removeFile(files.failed(role))
        let configured = config.role(role)
        report("restarting \(role) (agent \(configured?.agent ?? "none"), model \(configured?.model ?? "default"))")
        for index in slots.indices where slots[index].role == role {
            if slots[index].hasProcess {
                stop(index, reason: .restart, now: now)
            } else {
                slots[index].phase = .backoff(until: now)
                slots[index].nextBackoff = nil
            }
        }
    }

    /// True when a stop file in `ctl/` asks `role` (or every worker) to stop, listed now.
    private func roleStopRequested(_ role: String) -> Bool {
        let present = Set((try? FileOps.list(bus.layout.ctl)) ?? [])
        return present.contains("stop") || present.contains("stop." + role)
    }

    static func requestID(at path: String) -> String? {
        guard case .bytes(let b) = FileOps.readRegular(path, limit: 65_536), let v = try? JSONValue.parse(b) else {
            return nil
        }
        return v["id"]?.stringValue
    }

    // MARK: - Reporting

    private func slotIndex(_ role: String, _ instance: Int) -> Int? {
        slots.firstIndex { $0.role == role && $0.instance == instance }
    }

    private func report(_ line: String) {
        logger.info("\(line)")
        if options.display == .lines { options.output("\(Timestamp.now()) \(line)") }
    }

    /// Writes `state.json` when it changed (and every 2 s), and redraws the table.
    mutating func publish(now: ContinuousClock.Instant, force: Bool = false) {
        let snapshot = self.snapshot(final: force)
        let json = snapshot.json
        var comparable = json
        if case .object(var o) = comparable {
            o["updated"] = nil
            comparable = .object(o)
        }
        if force || comparable != lastWritten || lastWriteAt.map({ now - $0 > .seconds(2) }) ?? true {
            try? FileOps.writeAtomically(
                Array((json.serialized() + "\n").utf8), to: files.state, stagingDirectory: bus.layout.tmp,
                mode: Bus.fileMode, durable: false)
            lastWritten = comparable
            lastWriteAt = now
        }
        if options.display == .table, force || lastRenderAt.map({ now - $0 >= .milliseconds(500) }) ?? true {
            lastRenderAt = now
            let problem = busProblem.map {
                "\($0.headline(root: bus.layout.root)); \($0.advice(root: bus.layout.root))"
            }
            options.output(
                StatusTable.render(
                    rows: tableRows(now: now), bus: bus.layout.root, stopping: shuttingDown, problem: problem))
        }
    }

    private func snapshot(final: Bool) -> SupervisorSnapshot {
        SupervisorSnapshot(
            pid: getpid(), host: files.host, state: final ? "stopped" : (shuttingDown ? "stopping" : "running"),
            started: started, updated: .now(), instances: slots.map(\.snapshot), failedRoles: failedRoles.sorted(),
            handledRestarts: handledRestarts.sorted())
    }

    private func tableRows(now: ContinuousClock.Instant) -> [StatusTable.Row] {
        slots.map { slot in
            StatusTable.Row(
                role: slot.role, instance: slot.instance, pid: slot.child?.pid,
                state: failedRoles.contains(slot.role) && !slot.hasProcess ? "failed" : slot.phase.name,
                worker: slot.heartbeat?.stateText, envelope: slot.heartbeat?.claims.last?.id,
                heartbeatAge: slot.heartbeat == nil ? nil : now - slot.seqChangedAt, restarts: slot.restarts)
        }
    }

    /// How long after a role's stop grace the supervisor sends SIGKILL.
    static let killMargin: Duration = .seconds(1)

    static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms < 1_000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1_000) }
        return String(format: "%.1fm", Double(ms) / 60_000)
    }
}
