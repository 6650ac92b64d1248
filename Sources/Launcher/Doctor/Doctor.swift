import Bus
import FileFormats
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
        if let bus = locator.overridingBus { config.bus = FilePaths.resolve(bus, against: locator.directory) }
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
}
