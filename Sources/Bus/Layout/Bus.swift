#if canImport(Glibc)
    import Glibc
#endif

/// An opened bus directory: its layout and the settings every process on it shares.
public struct Bus: Sendable {
    /// The text of the `VERSION` file of a protocol-v1 bus.
    public static let versionText = "planbus-bus 1\n"
    /// Files a fresh bus directory may already hold (the repository's `bus/` folder has them).
    public static let allowedForeignFiles: Set<String> = ["README.md", ".gitignore", ".gitkeep"]
    /// Roles whose queues `create` makes up front.
    public static let productRoles = ["planner", "builder", "verifier", "docs", "judge"]
    /// Mode of directories the bus creates: 0700, or 02770 on a bus shared by a group
    /// (``BusPermissions``).
    public static var directoryMode: mode_t { BusPermissions.directoryMode }
    /// Mode of files the bus creates: 0600, or 0660 on a bus shared by a group.
    public static var fileMode: mode_t { BusPermissions.fileMode }

    /// Where things are.
    public let layout: BusLayout
    /// Shared tunables, from `bus.json`, with environment overrides applied.
    public var settings: BusSettings
    /// Signs published envelopes and checks claimed ones, when `bus.json` names a key file.
    public let signer: EnvelopeSigner?

    /// A bus whose process has adopted its permissions and loaded its signing key.
    private init(layout: BusLayout, settings: BusSettings) throws(BusError) {
        BusPermissions.adopt(settings)
        self.layout = layout
        self.settings = settings
        self.signer = try settings.signKeyFile.map { (file) throws(BusError) in
            try EnvelopeSigner.load(
                keyFile: file, keyID: settings.signKeyID, busRoot: layout.root, groupShared: settings.group != nil)
        }
    }

    /// Opens an existing bus.
    /// - Throws: ``BusError`` `invalidBus` when the directory is not a v1 bus or `bus.json` is invalid.
    public static func open(at path: String) throws(BusError) -> Bus {
        let layout = BusLayout(root: path)
        switch FileOps.readRegular(layout.versionFile, limit: 4096) {
        case .bytes(let b):
            let text = String(decoding: b, as: UTF8.self)
            guard text == versionText else {
                throw BusError(
                    .invalidBus,
                    "\(layout.versionFile) says \(text.debugDescription); this planbus speaks \(versionText.debugDescription)"
                )
            }
        case .missing where !FileOps.exists(path):
            throw BusError(.notFound, "there is no bus at \(path); create one with `planbus init \(path)`")
        case .missing:
            throw BusError(
                .invalidBus, "\(path) is not a planbus bus (no VERSION file); create one with `planbus init \(path)`")
        default:
            throw BusError(.invalidBus, "cannot read \(layout.versionFile)")
        }
        var settings = BusSettings()
        switch FileOps.readRegular(layout.settingsFile, limit: 65536) {
        case .bytes(let b):
            let value: JSONValue
            do {
                value = try JSONValue.parse(b)
            } catch {
                throw BusError(.invalidBus, "\(layout.settingsFile): \(error.message)")
            }
            settings = try BusSettings(json: value, file: layout.settingsFile)
        case .missing: break
        default: throw BusError(.invalidBus, "cannot read \(layout.settingsFile)")
        }
        try settings.applyEnvironment()
        return try Bus(layout: layout, settings: settings)
    }

    /// Creates a bus at `path`, or opens the one already there.
    ///
    /// Refuses to touch a directory that holds anything but a bus of the same version (a README,
    /// `.gitignore` and `.gitkeep` excepted).
    /// - Returns: the bus, and whether it was created now.
    /// - Throws: ``BusError`` `invalidBus` when the directory holds something else.
    public static func create(
        at path: String, settings: BusSettings = BusSettings(), roles: [String] = productRoles
    ) throws(BusError) -> (bus: Bus, created: Bool) {
        let layout = BusLayout(root: path)
        // The same checks as reading bus.json, so no process can create a bus others cannot open.
        _ = try BusSettings(json: settings.json, file: "the settings for \(layout.settingsFile)")
        if FileOps.exists(layout.versionFile) {
            let bus = try open(at: path)
            try bus.makeFolders(roles: roles)
            return (bus, false)
        }
        if FileOps.exists(path) {
            guard FileOps.isDirectory(path) else {
                throw BusError(.invalidBus, "\(path) exists and is not a directory")
            }
            // A create interrupted before VERSION is finished only when it got as far as writing a
            // valid bus.json (its first step after tmp/), and nothing but bus names is there.
            let names = try FileOps.list(path).filter { !allowedForeignFiles.contains($0) }
            let busNames: Set<String> = ["tmp", "ctl", "work", "hb", "q", "runs", "bus.json"]
            // (Or one interrupted even earlier, having made only empty bus folders.)
            let onlyBusNames = names.allSatisfy { busNames.contains($0) }
            let resumable =
                onlyBusNames
                && (names.contains("bus.json")
                    ? Self.readSettings(layout) != nil
                    : names.allSatisfy { ((try? FileOps.list(path + "/" + $0)) ?? ["?"]).isEmpty })
            guard names.isEmpty || resumable else {
                throw BusError(
                    .invalidBus,
                    "\(path) is not empty and is not a planbus bus (found "
                        + "\(names.sorted().prefix(3).joined(separator: ", "))); refusing to clobber it")
            }
        }
        if let file = settings.signKeyFile {
            _ = try EnvelopeSigner.load(
                keyFile: file, keyID: settings.signKeyID, busRoot: path, groupShared: settings.group != nil)
        }
        if let group = settings.group { try BusPermissions.checkMembership(group) }
        BusPermissions.adopt(settings)
        try FileOps.makeDirectories(path, mode: directoryMode)
        if let group = settings.group { try BusPermissions.shareFolder(path, group: group) }
        try FileOps.makeDirectories(layout.tmp, mode: directoryMode)
        // bus.json first (it marks the folder as a bus being created), VERSION last (its presence
        // means the layout is complete).
        try FileOps.writeAtomically(
            Array((settings.json.prettyPrinted() + "\n").utf8), to: layout.settingsFile, stagingDirectory: layout.tmp,
            mode: BusPermissions.settingsFileMode, durable: true)
        let bus = try Bus(layout: layout, settings: settings)
        try bus.makeFolders(roles: roles)
        try FileOps.writeAtomically(
            Array(versionText.utf8), to: layout.versionFile, stagingDirectory: layout.tmp,
            mode: BusPermissions.settingsFileMode, durable: true)
        var opened = bus
        try opened.settings.applyEnvironment()
        return (opened, true)
    }

    /// Rewrites the bus's `bus.json` with `change` applied to the settings it holds (not to the
    /// environment's overrides). Workers read the file when they start.
    /// - Returns: the settings before and after, or `nil` when nothing changed.
    /// - Throws: ``BusError`` `invalidBus` when the result is invalid or the bus cannot be read.
    public static func updateSettings(
        at path: String, _ change: (BusSettings) -> BusSettings
    ) throws(BusError) -> (old: BusSettings, new: BusSettings)? {
        let layout = BusLayout(root: path)
        _ = try open(at: path)
        guard let old = readSettings(layout) else {
            throw BusError(.invalidBus, "cannot read \(layout.settingsFile)")
        }
        let new = change(old)
        guard new != old else { return nil }
        _ = try BusSettings(json: new.json, file: "the new settings for \(layout.settingsFile)")
        try FileOps.writeAtomically(
            Array((new.json.prettyPrinted() + "\n").utf8), to: layout.settingsFile, stagingDirectory: layout.tmp,
            mode: BusPermissions.settingsFileMode, durable: true)
        return (old, new)
    }

    private static func readSettings(_ layout: BusLayout) -> BusSettings? {
        guard case .bytes(let b) = FileOps.readRegular(layout.settingsFile, limit: 65536),
            let value = try? JSONValue.parse(b)
        else { return nil }
        return try? BusSettings(json: value, file: layout.settingsFile)
    }

    private func makeFolders(roles: [String]) throws(BusError) {
        for dir in [layout.tmp, layout.ctl, layout.work, layout.heartbeats, layout.queues, layout.runs] {
            try FileOps.makeDirectories(dir, mode: Self.directoryMode, syncParents: settings.durable)
        }
        for role in roles { try ensureQueue(role) }
    }

    /// Creates a role's queue folders and heartbeat folder if they are missing.
    public func ensureQueue(_ role: String) throws(BusError) {
        try Limits.checkRole(role, field: "role")
        if FileOps.isDirectory(layout.seen(role)) && FileOps.isDirectory(layout.heartbeats(role)) { return }
        for folder in BusLayout.queueFolders {
            try FileOps.makeDirectories(
                layout.queue(role) + "/" + folder, mode: Self.directoryMode, syncParents: settings.durable)
        }
        try FileOps.makeDirectories(layout.heartbeats(role), mode: Self.directoryMode, syncParents: settings.durable)
    }

    /// The roles that have a queue on this bus.
    public func roles() throws(BusError) -> [String] {
        try FileOps.list(layout.queues).filter { FileOps.isDirectory(layout.queue($0)) && !$0.hasPrefix(".") }.sorted()
    }
}

extension BusSettings {
    /// `PLANBUS_WAKE` (auto / inotify / poll) and `PLANBUS_POLL_MS` override `bus.json`.
    /// - Throws: ``BusError`` `invalidBus` for a value `bus.json` would refuse too.
    mutating func applyEnvironment() throws(BusError) {
        if let raw = getenv("PLANBUS_WAKE").map({ String(cString: $0) }), !raw.isEmpty {
            guard let mode = WakeMode(rawValue: raw) else {
                throw BusError(.invalidBus, "PLANBUS_WAKE must be auto, inotify or poll, not \"\(raw)\"")
            }
            wake = mode
        }
        if let raw = getenv("PLANBUS_POLL_MS").map({ String(cString: $0) }), !raw.isEmpty {
            guard let ms = Int(raw), (10...600_000).contains(ms) else {
                throw BusError(.invalidBus, "PLANBUS_POLL_MS must be an integer from 10 to 600000, not \"\(raw)\"")
            }
            pollMs = ms
        }
    }
}
