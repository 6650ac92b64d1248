/// Tunables every process on a bus shares, stored in `bus.json` at the bus root.
///
/// Durations are milliseconds. Unknown keys are errors, so a typo never silently falls back to a
/// default.
public struct BusSettings: Sendable, Equatable {
    /// fsync payloads and folders so that a crash loses no published envelope and publishes no
    /// result twice; it may still deliver an envelope again (PROTOCOL 7.11).
    public var durable = true
    /// Deliveries (claims) an envelope may have before it is dead-lettered.
    public var maxAttempts = 5
    /// How often a worker rewrites its heartbeat.
    public var heartbeatMs = 2_000
    /// How long an observer waits, on its own monotonic clock, without seeing a heartbeat's `seq`
    /// change before the worker's claims may be taken over.
    public var leaseMs = 15_000
    /// First retry delay after a nack; doubled per attempt.
    public var retryBaseMs = 1_000
    /// Longest retry delay.
    public var retryCapMs = 300_000
    /// Largest envelope, in bytes.
    public var maxEnvelopeBytes = 1 << 20
    /// Deepest JSON nesting in an envelope.
    public var maxDepth = 32
    /// Full rescan period in inotify mode (events are only hints).
    public var rescanMs = 30_000
    /// Poll period in poll mode.
    public var pollMs = 500
    /// How often a worker runs its janitor pass.
    public var janitorMs = 1_000
    /// Age, on the janitor's clock, after which a staging file from a live or remote writer is stale.
    public var tmpMaxAgeMs = 3_600_000
    /// How long duplicate-detection markers are kept.
    public var seenRetentionDays = 14
    /// `auto`, `inotify` or `poll`.
    public var wake = WakeMode.auto
    /// The Unix group that shares the bus (folders 02770, files 0660); `nil` for a private bus
    /// (0700, 0600). See ``BusPermissions``.
    public var group: String?
    /// The absolute path of the file holding the key envelopes are signed with; `nil` when
    /// envelopes are not signed. The key itself never goes on the bus. See ``EnvelopeSigner``.
    public var signKeyFile: String?
    /// The name of the signing key, written in every signature.
    public var signKeyID = "main"

    /// The defaults.
    public init() {}

    /// The limits these settings imply.
    public var limits: Limits { Limits(maxEnvelopeBytes: maxEnvelopeBytes, maxDepth: maxDepth) }

    private static let keys: [String] = [
        "durable", "max_attempts", "heartbeat_ms", "lease_ms", "retry_base_ms", "retry_cap_ms",
        "max_envelope_bytes", "max_depth", "rescan_ms", "poll_ms", "janitor_ms", "tmp_max_age_ms",
        "seen_retention_days", "wake", "group", "sign_key_file", "sign_key_id",
    ]

    /// The JSON form written to `bus.json`.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "durable": .bool(durable), "max_attempts": .number(Double(maxAttempts)),
            "heartbeat_ms": .number(Double(heartbeatMs)), "lease_ms": .number(Double(leaseMs)),
            "retry_base_ms": .number(Double(retryBaseMs)), "retry_cap_ms": .number(Double(retryCapMs)),
            "max_envelope_bytes": .number(Double(maxEnvelopeBytes)), "max_depth": .number(Double(maxDepth)),
            "rescan_ms": .number(Double(rescanMs)), "poll_ms": .number(Double(pollMs)),
            "janitor_ms": .number(Double(janitorMs)), "tmp_max_age_ms": .number(Double(tmpMaxAgeMs)),
            "seen_retention_days": .number(Double(seenRetentionDays)), "wake": .string(wake.rawValue),
        ]
        // Written only when set, so a private, unsigned bus's file stays as it was.
        if let group { o["group"] = .string(group) }
        if let signKeyFile { o["sign_key_file"] = .string(signKeyFile) }
        if signKeyFile != nil || signKeyID != "main" { o["sign_key_id"] = .string(signKeyID) }
        return .object(o)
    }

    /// Reads `bus.json` text; every key is optional, unknown keys and bad values are errors.
    /// - Throws: ``BusError`` `invalidBus` naming the file and key.
    public init(json value: JSONValue, file: String) throws(BusError) {
        guard let o = value.objectValue else { throw BusError(.invalidBus, "\(file): must be a JSON object") }
        for key in o.keys where !Self.keys.contains(key) {
            throw BusError(.invalidBus, "\(file): unknown key \"\(key)\" (known: \(Self.keys.joined(separator: ", ")))")
        }
        func int(_ key: String, _ range: ClosedRange<Int>, _ current: Int) throws(BusError) -> Int {
            guard let v = o[key] else { return current }
            guard let i = v.intValue, range.contains(i) else {
                throw BusError(.invalidBus, "\(file): \"\(key)\" must be an integer in \(range)")
            }
            return i
        }
        if let d = o["durable"] {
            guard case .bool(let b) = d else {
                throw BusError(.invalidBus, "\(file): \"durable\" must be true or false")
            }
            durable = b
        }
        maxAttempts = try int("max_attempts", 1...1000, maxAttempts)
        heartbeatMs = try int("heartbeat_ms", 10...600_000, heartbeatMs)
        leaseMs = try int("lease_ms", 50...86_400_000, leaseMs)
        retryBaseMs = try int("retry_base_ms", 0...86_400_000, retryBaseMs)
        retryCapMs = try int("retry_cap_ms", 0...86_400_000, retryCapMs)
        maxEnvelopeBytes = try int("max_envelope_bytes", 1024...(64 << 20), maxEnvelopeBytes)
        maxDepth = try int("max_depth", 4...512, maxDepth)
        rescanMs = try int("rescan_ms", 100...86_400_000, rescanMs)
        pollMs = try int("poll_ms", 10...600_000, pollMs)
        janitorMs = try int("janitor_ms", 10...600_000, janitorMs)
        tmpMaxAgeMs = try int("tmp_max_age_ms", 1_000...(30 * 86_400_000), tmpMaxAgeMs)
        seenRetentionDays = try int("seen_retention_days", 1...3650, seenRetentionDays)
        if let w = o["wake"] {
            guard let s = w.stringValue, let mode = WakeMode(rawValue: s) else {
                throw BusError(.invalidBus, "\(file): \"wake\" must be \"auto\", \"inotify\" or \"poll\"")
            }
            wake = mode
        }
        try readSharing(o, file: file)
        guard leaseMs > heartbeatMs else {
            throw BusError(
                .invalidBus, "\(file): \"lease_ms\" (\(leaseMs)) must be longer than \"heartbeat_ms\" (\(heartbeatMs))")
        }
    }
}

/// How a process learns that files arrived.
public enum WakeMode: String, Sendable, Equatable, CaseIterable {
    /// inotify on local filesystems, polling on network and FUSE filesystems.
    case auto
    /// Always inotify.
    case inotify
    /// Always polling.
    case poll
}

extension BusSettings {
    /// Reads `group`, `sign_key_file` and `sign_key_id` (each a string, or `null` for unset).
    fileprivate mutating func readSharing(_ o: [String: JSONValue], file: String) throws(BusError) {
        func text(_ key: String) throws(BusError) -> String? {
            guard let value = o[key], value != .null else { return nil }
            guard let s = value.stringValue else { throw BusError(.invalidBus, "\(file): \"\(key)\" must be a string") }
            return s
        }
        if let name = try text("group") {
            guard BusPermissions.isValidGroupName(name) else {
                throw BusError(.invalidBus, "\(file): \"group\" must be a Unix group name, not \"\(name.prefix(64))\"")
            }
            group = name
        }
        if let path = try text("sign_key_file") {
            guard path.hasPrefix("/"), !path.utf8.contains(0) else {
                throw BusError(.invalidBus, "\(file): \"sign_key_file\" must be an absolute path")
            }
            signKeyFile = path
        }
        if let id = try text("sign_key_id") {
            guard EnvelopeSigner.isValidKeyID(id) else {
                throw BusError(.invalidBus, "\(file): \"sign_key_id\" must be 1 to 64 of [A-Za-z0-9_-]")
            }
            signKeyID = id
        }
    }
}
