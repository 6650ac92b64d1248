import Bus
import Logging
import ServiceLifecycle
import UnixSignals

/// One role process: a ``BusWorker`` for the role's queue, whose handler is the role's, run until
/// SIGTERM, SIGINT or a stop file.
///
/// Every role answers `ping` (acked, so `planbus log` shows which worker served it); other kinds
/// go to the ``Role`` when it lists them, and are dead-lettered otherwise.
public struct RoleRuntime: Sendable {
    /// The worker's identity: role, host, pid and a fresh incarnation.
    public let worker: WorkerID
    /// The underlying bus worker.
    public let busWorker: BusWorker
    private let logger: Logger

    /// A runtime for `settings.role` on `bus`, serving `role`.
    /// - Throws: ``BusError`` when the role name is invalid or its queue cannot be made.
    public init(bus: Bus, settings: RoleSettings, role: any Role, logger: Logger) throws(BusError) {
        let worker = try WorkerID.current(role: settings.role, host: settings.host)
        try bus.ensureQueue(settings.role)
        self.worker = worker
        self.logger = logger
        var handlerLogger = logger
        handlerLogger[metadataKey: "worker"] = "\(worker)"
        let options = BusWorker.Options(
            envelopeTimeout: settings.envelopeTimeout, stopGrace: settings.stopGrace, overlap: role.overlap)
        let heartbeat = HeartbeatWriter(bus: bus, worker: worker)
        let context = RoleContext(
            bus: bus, worker: worker, settings: settings, heartbeat: heartbeat, logger: handlerLogger)
        self.busWorker = try BusWorker(
            bus: bus, role: settings.role, worker: worker, logger: logger, options: options, heartbeat: heartbeat,
            idle: { await role.idle(context: context) }
        ) { claim in
            try await Self.dispatch(claim, role: role, context: context)
        }
        heartbeat.set(info: "instance", .number(Double(settings.instance)))
        heartbeat.set(info: "agent", .string(settings.agent))
        heartbeat.set(info: "model", settings.model.map(JSONValue.string) ?? .null)
    }

    /// Routes one envelope: `ping` is acked, the role's kinds go to the role, others are
    /// dead-lettered.
    static func dispatch(_ claim: Claim, role: any Role, context: RoleContext) async throws -> Disposition {
        let kind = claim.envelope.kind
        if kind == "ping" { return .ack([]) }
        guard role.kinds.contains(kind) else {
            let known = (["ping"] + role.kinds.sorted()).joined(separator: ", ")
            return .dead("role \(context.settings.role) does not handle kind \"\(kind)\" (it handles: \(known))")
        }
        return try await role.handle(claim, context: context)
    }

    /// Runs until SIGTERM, SIGINT or a stop file; returns once the worker has stopped.
    ///
    /// - Parameter services: Services the process runs next to its worker (such as the planner's
    ///   ``BacklogService``). They shut down gracefully with it; one that ends, or fails, shuts the
    ///   whole process down gracefully.
    public func run(alongside services: [any Service] = []) async throws {
        let extra = services.map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: busWorker, successTerminationBehavior: .gracefullyShutdownGroup)] + extra,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
