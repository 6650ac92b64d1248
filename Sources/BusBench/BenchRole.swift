import Bus
import Logging
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// The role `planbus bench session` supervises (`planbus bench session-role`).
///
/// It handles kind `bench-work`, whose body says what to do with the envelope:
/// - `markers`: a folder where the role creates `<id>.e<epoch>.<pid>` as soon as it has claimed
///   the envelope, so the benchmark knows which process holds it, and at which epoch;
/// - `gate`: a file to wait for before finishing (checked every 5 ms, with the heartbeat's
///   progress bumped at each check, so a long wait does not look like a hang);
/// - `ms`: how long to hold the envelope after that, as simulated work.
///
/// Then it acks. Every field is optional: an empty body is acked at once.
public struct BenchRole: Role {
    /// The kind this role handles.
    public static let kind = "bench-work"

    public var kinds: Set<String> { [Self.kind] }

    public init() {}

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let body = claim.envelope.body
        if let markers = body["markers"]?.stringValue {
            let path = markers + "/" + Self.markerName(id: claim.envelope.id, epoch: claim.epoch, pid: getpid())
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        }
        if let gate = body["gate"]?.stringValue {
            while !FileOps.exists(gate) {
                context.heartbeat.progressed()
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        if let ms = body["ms"]?.intValue, ms > 0 {
            // The simulated work itself, not a wait for a condition.
            try await Task.sleep(for: .milliseconds(ms))
        }
        return .ack([])
    }

    /// The name of the marker the process `pid` creates when it claims envelope `id` at `epoch`.
    public static func markerName(id: String, epoch: Int, pid: Int32) -> String {
        "\(id).e\(epoch).\(pid)"
    }

    /// Parses a marker name: the envelope id, the epoch of the claim and the claiming pid.
    public static func parseMarker(_ name: String) -> (id: String, epoch: Int, pid: Int32)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].first == "e", let epoch = Int(parts[1].dropFirst()), let pid = Int32(parts[2])
        else { return nil }
        return (String(parts[0]), epoch, pid)
    }

    /// Runs this role on the Roles runtime until SIGTERM, SIGINT or a stop file, with the settings
    /// the supervisor passes in the environment: `PLANBUS_BUS`, `PLANBUS_ROLE`, `PLANBUS_INSTANCE`,
    /// `PLANBUS_STOP_GRACE_MS` and `PLANBUS_ENVELOPE_TIMEOUT_MS`.
    /// - Parameters:
    ///   - environment: the process environment.
    ///   - host: the host name to claim under (this machine's when `nil`); another name makes the
    ///     process judged by its heartbeats alone, as one on another host is.
    ///   - logger: the runtime's logger.
    /// - Throws: ``BenchError`` `invalidArgument` when `PLANBUS_BUS` or `PLANBUS_ROLE` is missing;
    ///   `BusError` when the bus cannot be opened or the worker cannot start.
    public static func serve(environment: [String: String], host: String?, logger: Logger) async throws {
        guard let busPath = environment["PLANBUS_BUS"], !busPath.isEmpty else {
            throw BenchError(.invalidArgument, "PLANBUS_BUS is not set (planbus up sets it)")
        }
        guard let role = environment["PLANBUS_ROLE"], !role.isEmpty else {
            throw BenchError(.invalidArgument, "PLANBUS_ROLE is not set (planbus up sets it)")
        }
        func milliseconds(_ key: String) -> Duration? {
            environment[key].flatMap(Int.init).map { Duration.milliseconds($0) }
        }
        let settings = RoleSettings(
            role: role, instance: environment["PLANBUS_INSTANCE"].flatMap(Int.init) ?? 0, host: host,
            envelopeTimeout: milliseconds("PLANBUS_ENVELOPE_TIMEOUT_MS"),
            stopGrace: milliseconds("PLANBUS_STOP_GRACE_MS") ?? .seconds(10))
        let bus = try Bus.open(at: busPath)
        let runtime = try RoleRuntime(bus: bus, settings: settings, role: BenchRole(), logger: logger)
        try await runtime.run()
    }
}
