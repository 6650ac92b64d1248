import Bus
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Checks that this machine can run planbus, and says how to fix what is wrong.
///
/// ``run()`` runs every check, in this order, and returns one ``DoctorCheck`` each:
///
/// - `configuration`: `planbus.yaml` is found and valid (no file means the built-in defaults).
/// - `inotify`: the `fs.inotify` limits are high enough for inotify wake-ups.
/// - `filesystem`: the bus's filesystem type and the wake mode it leads to.
/// - `git` and `repository`: git runs, and the configured repository is a git work tree.
/// - `agents`: which agent CLIs are on `PATH`, and that every running role's agent is usable.
/// - `bus` and `disk space`: the bus exists and takes a full write cycle; its filesystem has room.
/// - `clock skew`: how far other hosts' clocks are from this one's, seen in their heartbeats.
///
/// No check throws: a problem is a ``DoctorCheck`` with status ``DoctorCheck/Status/warning`` or
/// ``DoctorCheck/Status/failure`` and a fix. Every input is a property, so tests can point the
/// checks at fake `/proc` files, a fake `PATH`, a temporary bus and a fixed clock.
public struct Doctor: Sendable {
    /// Where the configuration and the bus are found.
    public var locator: ConfigLocator
    /// The environment roles would get: `PLANBUS_WAKE`, the API keys, and git's environment.
    public var environment: [String: String]
    /// The `PATH` searched for git and the agent CLIs.
    public var searchPath: String
    /// The folder holding `max_user_watches`, `max_user_instances` and `max_queued_events`.
    public var inotifyDirectory = "/proc/sys/fs/inotify"
    /// This machine's host name as the bus sees it: heartbeats from it are not checked for skew.
    public var hostName = Host.name
    /// This machine's wall clock.
    public var now: @Sendable () -> Timestamp = { .now() }
    /// Longest wait for another host's heartbeat to be rewritten when its age alone cannot tell a
    /// slow clock from a stopped worker (zero: do not wait).
    public var heartbeatWait: Duration = .seconds(5)

    /// A doctor for the configuration and bus `locator` finds.
    ///
    /// - Parameters:
    ///   - locator: Where the configuration and the bus are (the `--config` and `--bus` options).
    ///   - environment: The environment to check; this process's by default.
    ///   - searchPath: The `PATH` to search; the environment's by default.
    public init(
        locator: ConfigLocator = ConfigLocator(),
        environment: [String: String] = Foundation.ProcessInfo.processInfo.environment, searchPath: String? = nil
    ) {
        self.locator = locator
        self.environment = environment
        self.searchPath = searchPath ?? environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    }

    /// Runs every check.
    /// - Returns: One result per check, in the order the type's documentation lists them.
    public func run() async -> [DoctorCheck] {
        let (configCheck, loaded) = configuration()
        let config = loaded ?? fallbackConfig()
        let (settings, origin) = settings(bus: config.bus, config: loaded)
        let (gitCheck, git) = await self.git()
        return [
            configCheck, inotifyLimits(), filesystem(bus: config.bus, settings: settings, origin: origin), gitCheck,
            await repository(config.repository, git: git), agents(config: loaded), bus(config.bus),
            diskSpace(config.bus), await clockSkew(bus: config.bus, settings: settings),
        ]
    }

    // MARK: Configuration

    /// Checks that the configuration file, if any, loads.
    /// - Returns: The result, and the configuration when it loaded.
    package func configuration() -> (check: DoctorCheck, config: PlanbusConfig?) {
        let name = "configuration"
        guard let file = locator.file else {
            let config = fallbackConfig()
            return (.ok(name, "no planbus.yaml; the built-in defaults are used (bus \(config.bus))"), config)
        }
        do {
            let config = try locator.load()
            let running = config.roles.filter { $0.instances > 0 }.map { "\($0.name)×\($0.instances)" }
            let roles = running.isEmpty ? "no role runs here" : "roles " + running.joined(separator: ", ")
            return (.ok(name, "\(file) is valid: bus \(config.bus), \(roles)"), config)
        } catch {
            let fix: String
            switch error.code {
            case .notFound:
                fix = "create it with `planbus init --config \(file)`, or point --config or PLANBUS_CONFIG elsewhere"
            case .invalidConfig:
                fix = "edit \(file) at the line and column above (docs/CONFIG.md describes every field)"
            default:
                fix = "make \(file) readable by this user (ls -l \(file))"
            }
            let detail = "\(error.description) (the other checks use the built-in defaults)"
            return (.failure(name, detail, fix: fix), nil)
        }
    }

    /// The defaults, with `--bus` or `PLANBUS_BUS` applied.
    func fallbackConfig() -> PlanbusConfig {
        var config = ConfigLoader.defaults(directory: locator.directory)
        if let bus = locator.overridingBus { config.bus = ConfigPath.resolve(bus, against: locator.directory) }
        return config
    }

    /// Where the wake mode setting came from.
    package enum WakeOrigin: Sendable, Equatable {
        /// `PLANBUS_WAKE`.
        case environment
        /// `bus_settings.wake` in this configuration file.
        case configuration(String)
        /// The bus's `bus.json`.
        case busFile(String)
        /// Nothing set it.
        case defaults

        var description: String {
            switch self {
            case .environment: return "PLANBUS_WAKE"
            case .configuration(let file): return "bus_settings.wake in \(file)"
            case .busFile(let file): return file
            case .defaults: return "the default"
            }
        }

        /// How to change the setting back to `auto`.
        var fix: String {
            switch self {
            case .environment:
                return "unset PLANBUS_WAKE (or export PLANBUS_WAKE=poll), then planbus down and planbus up"
            case .configuration(let file): return "set bus_settings.wake: auto in \(file), then planbus up"
            case .busFile(let file):
                return "set bus_settings.wake: auto in planbus.yaml and run planbus up (or edit \"wake\" in \(file))"
            case .defaults: return "set bus_settings.wake: auto in planbus.yaml, then planbus up"
            }
        }
    }

    /// The settings the next `planbus up` runs with: `bus.json` (or the defaults), then the
    /// configuration's `bus_settings`, then `PLANBUS_WAKE`.
    package func settings(bus: String, config: PlanbusConfig?) -> (BusSettings, WakeOrigin) {
        let file = BusLayout(root: bus).settingsFile
        var settings = BusSettings()
        var origin = WakeOrigin.defaults
        if case .bytes(let bytes) = FileOps.readRegular(file, limit: 65_536), let value = try? JSONValue.parse(bytes),
            let read = try? BusSettings(json: value, file: file)
        {
            settings = read
            if value["wake"] != nil { origin = .busFile(file) }
        }
        if let config {
            settings = config.busSettings.applied(to: settings)
            if config.busSettings.wake != nil { origin = .configuration(config.file ?? "planbus.yaml") }
        }
        if let raw = environment["PLANBUS_WAKE"], let mode = WakeMode(rawValue: raw) {
            settings.wake = mode
            origin = .environment
        }
        return (settings, origin)
    }

    // MARK: inotify

    /// The inotify limits planbus checks: the floor below which it warns, and the value it proposes.
    static let inotifyLimits: [(name: String, floor: Int, proposed: Int, effect: String)] = [
        ("max_user_watches", 8_192, 524_288, "directories without a watch are polled"),
        ("max_user_instances", 128, 512, "a process that gets no inotify instance polls"),
        ("max_queued_events", 16_384, 65_536, "an overflowing queue costs a full rescan"),
    ]

    /// Reads the `fs.inotify` limits and warns about low ones, with the `sysctl` commands that
    /// raise them now and after a reboot.
    package func inotifyLimits() -> DoctorCheck {
        let name = "inotify"
        var found: [String] = []
        var low: [(name: String, proposed: Int)] = []
        var effects: [String] = []
        var unreadable: [String] = []
        for limit in Self.inotifyLimits {
            let path = inotifyDirectory + "/" + limit.name
            guard let value = Self.readInteger(path) else {
                unreadable.append(path)
                continue
            }
            if value < limit.floor {
                found.append("\(limit.name) \(value) (below \(limit.floor))")
                low.append((limit.name, limit.proposed))
                effects.append(limit.effect)
            } else {
                found.append("\(limit.name) \(value)")
            }
        }
        let mode = "libinotifytools is linked: wake: auto uses inotify on local filesystems"
        if !unreadable.isEmpty {
            let detail =
                "cannot read \(unreadable.joined(separator: ", ")), so inotify may be unavailable "
                + "(planbus then polls); \(mode)"
            return .warning(
                name, (found + [detail]).joined(separator: "; "),
                fix: "run planbus on a Linux kernel with inotify and /proc mounted, or set bus_settings.wake: poll")
        }
        let detail = found.joined(separator: ", ") + "; " + mode
        guard !low.isEmpty else { return .ok(name, detail) }
        let settings = low.map { "fs.inotify.\($0.name)=\($0.proposed)" }
        let fix =
            settings.map { "sudo sysctl -w \($0)" }
            + [
                "to keep it after a reboot: printf '%s\\n' \(settings.map { "'\($0)'" }.joined(separator: " ")) "
                    + "| sudo tee /etc/sysctl.d/60-planbus-inotify.conf && sudo sysctl --system"
            ]
        return .warning(name, detail + " (" + effects.joined(separator: "; ") + ")", fix: fix.joined(separator: "\n"))
    }

    /// The integer in a small file such as a `/proc/sys` entry.
    ///
    /// Integer sysctl files report a size of 0 and answer only a read at offset 0 (a second read
    /// returns nothing), so the whole value is read with a single `read`.
    static func readInteger(_ path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        var count = 0
        repeat {
            count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        } while count < 0 && errno == EINTR
        guard count > 0 else { return nil }
        return Int(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: Filesystem

    /// Finds the bus's filesystem type and the wake mode that will be used on it.
    package func filesystem(bus: String, settings: BusSettings, origin: WakeOrigin) -> DoctorCheck {
        let target = Self.nearestExisting(bus)
        let kind: Result<FilesystemKind, BusError> = Result { () throws(BusError) in try FilesystemKind.of(target) }
        var check = Self.wakeCheck(kind: kind, settings: settings, origin: origin)
        if target != bus { check.detail = "\(bus) does not exist yet, so \(target) was checked: " + check.detail }
        return check
    }

    /// Judges a filesystem kind and a wake setting: polling is right on network filesystems, and
    /// inotify forced on one is a failure (it does not see other hosts' writes).
    package static func wakeCheck(
        kind: Result<FilesystemKind, BusError>, settings: BusSettings, origin: WakeOrigin
    ) -> DoctorCheck {
        let name = "filesystem"
        let poll = "poll mode, a rescan every \(settings.pollMs) ms"
        let forced = "wake: \(settings.wake.rawValue) set by \(origin.description)"
        switch (kind, settings.wake) {
        case (.failure(let error), .auto):
            return .warning(
                name, "cannot tell the filesystem type (\(error.description)): \(poll), to be safe",
                fix: "make the bus folder reachable by this user, or set bus_settings.wake: poll or inotify")
        case (.failure(let error), _):
            return .ok(name, "cannot tell the filesystem type (\(error.description)); \(forced)")
        case (.success(let kind), .inotify) where kind.isRemote:
            return .failure(
                name,
                "\(kind) filesystem with \(forced): inotify does not see other hosts' writes, so envelopes from "
                    + "them wait for the rescan every \(settings.rescanMs) ms",
                fix: origin.fix)
        case (.success(let kind), .auto) where kind.isRemote:
            return .ok(name, "\(kind) filesystem: \(poll) (inotify cannot see other hosts' writes)")
        case (.success(let kind), .poll):
            let why = kind.isRemote ? "" : "; wake: auto would use inotify and wake sooner"
            return .ok(name, "\(kind.isRemote ? "" : "local ")\(kind) filesystem: \(poll), \(forced)\(why)")
        case (.success(let kind), _):
            let how = settings.wake == .auto ? "" : ", \(forced)"
            let known = !kind.description.hasPrefix("0x")
            let local = known ? "local \(kind)" : "\(kind) (not a known network filesystem)"
            let hint = known ? "" : "; if other hosts write to this bus, set bus_settings.wake: poll"
            return .ok(
                name, "\(local) filesystem: inotify mode\(how), with a full rescan every \(settings.rescanMs) ms\(hint)"
            )
        }
    }

    /// `path`, or its nearest ancestor that exists.
    static func nearestExisting(_ path: String) -> String {
        var current = path
        while !FileOps.exists(current) && current != "/" && current != "." {
            current = FileOps.parentPath(current)
        }
        return current
    }

    // MARK: Git

    /// Checks that `git --version` runs.
    /// - Returns: The result, and git's path when it runs.
    package func git() async -> (check: DoctorCheck, path: String?) {
        let name = "git"
        let install = "sudo apt-get install -y git"
        guard let path = Self.find("git", in: searchPath) else {
            return (.failure(name, "git is not on PATH (\(searchPath))", fix: install), nil)
        }
        let run = await capture([path, "--version"])
        guard run.exit == .exited(0) else {
            let why = run.failure ?? "\(run.exit.map(\.description) ?? "timed out"): \(run.output)"
            return (.failure(name, "\(path) --version failed (\(why))", fix: install), nil)
        }
        return (.ok(name, "\(run.output) at \(path)"), path)
    }

    /// Checks that `repository` is a git work tree.
    package func repository(_ repository: String, git: String?) async -> DoctorCheck {
        let name = "repository"
        let fix =
            "git -C \(repository) init (or set repository: in planbus.yaml to your project's work tree)"
        guard let git else {
            return .warning(name, "\(repository) not checked: git does not run", fix: "install git (see the git check)")
        }
        var st = stat()
        guard stat(repository, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            return .warning(name, "\(repository) is not a directory", fix: fix)
        }
        let run = await capture([git, "-C", repository, "rev-parse", "--is-inside-work-tree"])
        if run.exit == .exited(0) && run.output == "true" {
            return .ok(name, "\(repository) is a git work tree")
        }
        let said = run.failure ?? run.output
        return .warning(
            name, "\(repository) is not a git work tree (git rev-parse: \(said.isEmpty ? "no answer" : said))",
            fix: fix)
    }

    /// The result of a program run to completion.
    struct Captured {
        /// How it ended, or `nil` when it was killed for running too long.
        var exit: ChildProcess.Exit?
        /// The first line of its stdout, or else of its stderr.
        var output: String
        /// Why it could not start.
        var failure: String?
    }

    /// Runs `arguments` with this doctor's environment, for at most `timeout`.
    func capture(_ arguments: [String], timeout: Duration = .seconds(10)) async -> Captured {
        let base = FileManager.default.temporaryDirectory.path + "/planbus-doctor-" + FileOps.randomHex(12)
        defer {
            FileOps.removeFile(base + ".out")
            FileOps.removeFile(base + ".err")
        }
        var env = environment
        env["PATH"] = searchPath
        env["LC_ALL"] = "C"
        env["GIT_TERMINAL_PROMPT"] = "0"
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                arguments, environment: env, stdout: .file(base + ".out"), stderr: .file(base + ".err"))
        } catch {
            return Captured(exit: nil, output: "", failure: error.description)
        }
        let exit = await withTaskGroup(of: ChildProcess.Exit?.self) { group in
            group.addTask { await child.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { child.sendToGroup(SIGKILL) }
            group.cancelAll()
            return first
        }
        func firstLine(_ path: String) -> String {
            guard case .bytes(let bytes) = FileOps.readRegular(path, limit: 1 << 20) else { return "" }
            let text = String(decoding: bytes, as: UTF8.self)
            return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        }
        let out = firstLine(base + ".out")
        return Captured(exit: exit, output: out.isEmpty ? firstLine(base + ".err") : out)
    }

    /// The executable regular file `name` in the first folder of `searchPath` that has one.
    package static func find(_ name: String, in searchPath: String) -> String? {
        for folder in searchPath.split(separator: ":") where !folder.isEmpty {
            let path = folder + "/" + name
            var st = stat()
            if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    // MARK: Agents

    /// The agent CLIs planbus can drive, by agent name, in the order they are reported.
    static let agentCommands = ["claude", "codex", "gemini", "aider", "cursor-agent"]
    /// How to install each agent CLI.
    static let installCommands = [
        "claude": "npm install -g @anthropic-ai/claude-code", "codex": "npm install -g @openai/codex",
        "gemini": "npm install -g @google/gemini-cli", "aider": "python3 -m pip install aider-install && aider-install",
        "cursor-agent": "curl https://cursor.com/install -fsS | bash",
    ]
    /// The environment variable each API agent needs.
    static let apiKeys = ["openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"]

    /// Finds the agent CLIs on the search path and checks that every role that runs on this host
    /// (one or more instances) can use its agent.
    package func agents(config: PlanbusConfig?) -> DoctorCheck {
        let name = "agents"
        var found: [String: String] = [:]
        for command in Self.agentCommands {
            if let path = Self.find(command, in: searchPath) { found[command] = path }
        }
        let onPath = Self.agentCommands.compactMap { c in found[c].map { "\(c) (\($0))" } }
        var detail =
            onPath.isEmpty
            ? "no agent CLI on PATH (\(Self.agentCommands.joined(separator: ", ")))"
            : "on PATH: " + onPath.joined(separator: ", ")
        guard let config else { return .ok(name, detail + "; roles not checked: the configuration is invalid") }
        if onPath.isEmpty && config.roles.allSatisfy({ $0.instances == 0 || $0.agent == "none" }) {
            detail += ": offline mode; roles run without agents"
        }
        var problems: [String] = []
        var fixes: [String] = []
        for role in config.roles where role.instances > 0 {
            if Self.agentCommands.contains(role.agent), found[role.agent] == nil {
                problems.append("role \(role.name) uses agent \(role.agent), but \(role.agent) is not on PATH")
                fixes.append(
                    "\(Self.installCommands[role.agent] ?? role.agent) (or set roles.\(role.name).agent: none)")
            } else if let key = Self.apiKeys[role.agent], (role.env[key] ?? environment[key] ?? "").isEmpty {
                problems.append("role \(role.name) uses agent \(role.agent), but \(key) is not set")
                fixes.append("export \(key)=... before planbus up (or set roles.\(role.name).agent: none)")
            }
        }
        let users = config.roles.filter { $0.instances > 0 && $0.agent != "none" }.map { "\($0.name) → \($0.agent)" }
        if !users.isEmpty { detail += "; roles: " + users.joined(separator: ", ") }
        guard problems.isEmpty else {
            let fix = fixes.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            return .failure(name, problems.joined(separator: "; ") + "; " + detail, fix: fix.joined(separator: "\n"))
        }
        return .ok(name, detail)
    }

    // MARK: Bus

    /// Checks that the bus exists, opens, and takes a create, write, fsync, rename and remove in
    /// `tmp/`, and that its folders are writable.
    package func bus(_ path: String) -> DoctorCheck {
        let name = "bus"
        guard FileOps.exists(path) else {
            return .failure(name, "there is no bus at \(path)", fix: "planbus init \(path)")
        }
        do {
            _ = try Bus.open(at: path)
        } catch {
            let fix =
                error.code == .invalidBus && FileOps.exists(BusLayout(root: path).versionFile)
                ? "correct the file the message names (docs/PROTOCOL.md describes bus.json)"
                : "planbus init \(path) (on an empty folder), or point --bus at the bus"
            return .failure(name, error.description, fix: fix)
        }
        let layout = BusLayout(root: path)
        var folders = [layout.tmp, layout.ctl, layout.work, layout.heartbeats, layout.queues, layout.runs]
        for role in ((try? FileOps.list(layout.queues)) ?? []).sorted() where !role.hasPrefix(".") {
            folders += BusLayout.queueFolders.map { layout.queue(role) + "/" + $0 } + [layout.heartbeats(role)]
        }
        let locked = folders.filter { FileOps.isDirectory($0) && access($0, W_OK | X_OK) != 0 }
        let owner = "sudo chown -R \(getuid()):\(getgid()) \(path) && chmod -R u+rwX \(path)"
        if !locked.isEmpty {
            let list =
                locked.prefix(3).joined(separator: ", ") + (locked.count > 3 ? " and \(locked.count - 3) more" : "")
            return .failure(
                name, "\(locked.count) bus folders are not writable by uid \(getuid()): \(list)", fix: owner)
        }
        let started = ContinuousClock.now
        do throws(BusError) {
            try Self.writeCycle(in: layout.tmp)
        } catch {
            let fix: String
            switch error.errno {
            case EACCES, EPERM: fix = owner
            case EROFS:
                fix = "the filesystem is read-only: remount it read-write (mount -o remount,rw), or move the bus"
            case ENOSPC, EDQUOT: fix = "free space (or raise the quota) on the filesystem holding \(path)"
            case ENOTDIR, ENOENT: fix = "move \(layout.tmp) away if it is not a folder, then planbus init \(path)"
            default: fix = "check the filesystem holding \(path) (mount; dmesg | tail)"
            }
            return .failure(name, "a test write in \(layout.tmp) failed: \(error.description)", fix: fix)
        }
        let elapsed = (ContinuousClock.now - started).components
        let ms = ((Double(elapsed.seconds) * 1_000 + Double(elapsed.attoseconds) / 1e15) * 10).rounded() / 10
        return .ok(
            name, "\(path) is a v1 bus; a file was created, written, fsynced, renamed and removed in tmp/ in \(ms) ms")
    }

    /// Creates, writes, fsyncs, renames and removes a staging file in `folder` (which the janitor
    /// cleans up should this process die half-way).
    static func writeCycle(in folder: String) throws(BusError) {
        let first = folder + "/" + QueueNames.staging("doctor")
        let second = folder + "/" + QueueNames.staging("doctor")
        guard let fd = try FileOps.createExclusive(first, mode: Bus.fileMode) else {
            throw BusError(.io, "\(first) exists already")
        }
        do throws(BusError) {
            try FileOps.writeAll(fd, Array("planbus doctor\n".utf8), path: first)
            try FileOps.sync(fd, path: first)
        } catch {
            close(fd)
            FileOps.removeFile(first)
            throw error
        }
        do throws(BusError) {
            try FileOps.closeChecked(fd, path: first)
        } catch {
            FileOps.removeFile(first)
            throw error
        }
        guard FileOps.renameReplacing(first, to: second) else {
            let code = errno
            FileOps.removeFile(first)
            throw BusError(.io, "cannot rename \(first) to \(second)", errno: code)
        }
        guard unlink(second) == 0 else { throw BusError(.io, "cannot remove \(second)", errno: errno) }
        try FileOps.syncDirectory(folder)
    }

    /// The free space on the bus's filesystem (or, when the bus does not exist yet, its parent's).
    package func diskSpace(_ path: String) -> DoctorCheck {
        let target = Self.nearestExisting(path)
        var st = statvfs()
        guard statvfs(target, &st) == 0 else {
            let detail = "cannot statvfs \(target): \(String(cString: strerror(errno)))"
            return .warning("disk space", detail, fix: "make \(target) reachable by this user")
        }
        let unit = UInt64(st.f_frsize == 0 ? st.f_bsize : st.f_frsize)
        return Self.diskSpaceCheck(
            path: target, available: UInt64(st.f_bavail) * unit, total: UInt64(st.f_blocks) * unit)
    }

    /// The smallest free space that is not a warning.
    static let minimumFreeBytes: UInt64 = 1 << 30

    /// Judges free space: a warning below ``minimumFreeBytes``.
    package static func diskSpaceCheck(path: String, available: UInt64, total: UInt64) -> DoctorCheck {
        let percent = total == 0 ? 0 : available * 100 / total
        let detail = "\(gibibytes(available)) free of \(gibibytes(total)) (\(percent) %) on the filesystem of \(path)"
        guard available < minimumFreeBytes else { return .ok("disk space", detail) }
        return .warning(
            "disk space", detail + ": below 1 GiB, a full disk fails every publish and ack",
            fix: "free space on that filesystem (df -h \(path); du -sh \(path)/*), or move the bus to a larger one")
    }

    static func gibibytes(_ bytes: UInt64) -> String {
        "\((Double(bytes) / Double(1 << 30) * 10).rounded() / 10) GiB"
    }

    // MARK: Clock skew

    /// One reading of another host's clock, from one of its heartbeats.
    struct SkewSample {
        var host: String
        /// The heartbeat's `updated` minus this machine's now, in milliseconds.
        var skewMs: Int64
        /// How much of a negative skew the heartbeat's age may account for.
        var noiseMs: Int64
        /// The part of the skew the heartbeat's age cannot account for.
        var unexplainedMs: Int64 { skewMs >= 0 ? skewMs : max(0, -skewMs - noiseMs) }
    }

    /// Estimates other hosts' clock skew from their heartbeats (`updated` minus this machine's now).
    ///
    /// A heartbeat is rewritten every `heartbeat_ms`, so it may be that old: a negative skew within
    /// `heartbeat_ms` is noise. An older one is either a slow clock or a worker that is gone; the
    /// doctor watches it for up to ``heartbeatWait`` and measures again when it is rewritten.
    package func clockSkew(bus: String, settings: BusSettings) async -> DoctorCheck {
        let noise = Int64(settings.heartbeatMs)
        var samples: [SkewSample] = []
        var pending: [String: Heartbeat] = [:]
        for (path, beat) in remoteHeartbeats(BusLayout(root: bus)) {
            let skew = beat.updated.milliseconds - now().milliseconds
            if skew < -noise {
                pending[path] = beat
            } else {
                samples.append(SkewSample(host: beat.worker.host, skewMs: skew, noiseMs: noise))
            }
        }
        let interval = Duration.milliseconds(50)
        let deadline = ContinuousClock.now + min(heartbeatWait, .milliseconds(settings.heartbeatMs + 500))
        while !pending.isEmpty && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: interval)
            for (path, old) in pending {
                guard let beat = Heartbeat.read(path: path), beat.seq != old.seq else { continue }
                let skew = beat.updated.milliseconds - now().milliseconds
                samples.append(
                    SkewSample(host: beat.worker.host, skewMs: skew, noiseMs: Int64(2 * interval.milliseconds)))
                pending[path] = nil
            }
        }
        return Self.skewCheck(samples, silent: pending.values.map(\.worker.host), settings: settings)
    }

    /// The heartbeats of other hosts' workers that have not stopped, with their paths.
    func remoteHeartbeats(_ layout: BusLayout) -> [(String, Heartbeat)] {
        var beats: [(String, Heartbeat)] = []
        for role in ((try? FileOps.list(layout.heartbeats)) ?? []).sorted() {
            let folder = layout.heartbeats(role)
            for name in ((try? FileOps.list(folder)) ?? []).sorted() where name.hasSuffix(".json") {
                guard let beat = Heartbeat.read(path: folder + "/" + name), beat.worker.host != hostName,
                    beat.state != .stopped
                else { continue }
                beats.append((folder + "/" + name, beat))
            }
        }
        return beats
    }

    /// Judges skew samples, host by host: a warning above 1 s, a failure above half the lease.
    static func skewCheck(_ samples: [SkewSample], silent: [String], settings: BusSettings) -> DoctorCheck {
        let name = "clock skew"
        let hosts = Set(silent).sorted().joined(separator: ", ")
        let gone =
            silent.isEmpty
            ? nil
            : (silent.count == 1 ? "1 heartbeat from \(hosts) was" : "\(silent.count) heartbeats from \(hosts) were")
                + " not rewritten while the doctor waited: the workers seem gone (see planbus ps), so this tells "
                + "nothing about clocks"
        guard !samples.isEmpty else { return .ok(name, gone ?? "no heartbeats from other hosts") }
        let failAbove = Int64(settings.leaseMs / 2)
        var parts: [String] = []
        var offenders: [String] = []
        var status = DoctorCheck.Status.ok
        for (host, readings) in Dictionary(grouping: samples, by: \.host).sorted(by: { $0.key < $1.key }) {
            let worst = readings.max { ($0.unexplainedMs, abs($0.skewMs)) < ($1.unexplainedMs, abs($1.skewMs)) }!
            let measured = (worst.skewMs >= 0 ? "+" : "-") + seconds(abs(worst.skewMs))
            guard worst.unexplainedMs > 0 else {
                parts.append("\(host) \(measured), within the \(seconds(worst.noiseMs)) heartbeat interval: noise")
                continue
            }
            let side = worst.skewMs > 0 ? "ahead of" : "behind"
            parts.append("\(host) \(measured) (its clock is \(side) this one's)")
            let hostStatus: DoctorCheck.Status =
                worst.unexplainedMs > failAbove ? .failure : (worst.unexplainedMs > 1_000 ? .warning : .ok)
            if hostStatus != .ok { offenders.append(host) }
            status = max(status, hostStatus)
        }
        var detail = parts.joined(separator: "; ")
        switch status {
        case .ok: break
        case .warning:
            detail += ": above 1 s, planbus ps shows those hosts' heartbeat ages off by as much"
        case .failure:
            detail +=
                ": above half the \(seconds(Int64(settings.leaseMs))) lease, planbus ps would call live workers "
                + "stale or miss dead ones"
        }
        if status != .ok { detail += " (liveness itself never uses wall clocks)" }
        if let gone { detail += "; " + gone }
        return DoctorCheck(
            name: name, status: status, detail: detail,
            fix: "sync the clocks of this host and \(offenders.joined(separator: ", ")) with NTP: sudo timedatectl "
                + "set-ntp true on each (or configure chrony); timedatectl timesync-status shows the offset")
    }

    /// Milliseconds as seconds with one decimal, such as `5.0 s`.
    static func seconds(_ ms: Int64) -> String {
        "\((Double(ms) / 100).rounded() / 10) s"
    }
}
