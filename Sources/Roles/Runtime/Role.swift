import Bus
import Logging

/// What a role does with the envelopes addressed to it.
///
/// The runtime (``RoleRuntime``) claims each envelope, answers the kinds every role shares
/// (`ping`), hands the kinds in ``kinds`` to ``handle(_:context:)``, and dead-letters the rest
/// with a reason naming the kinds the role does handle.
public protocol Role: Sendable {
    /// The envelope kinds this role handles.
    var kinds: Set<String> { get }

    /// Handles one claimed envelope. Throwing nacks it with the error recorded (retried later,
    /// dead-lettered after `max_attempts`). The task is cancelled when the envelope's timeout or
    /// the stop grace runs out.
    func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition

    /// Lets go of what the role kept from one envelope for the next (such as a builder's work
    /// tree). The runtime calls it between envelopes, once the role has handled one and then finds
    /// its queue empty, and when the role stops. The default does nothing.
    func idle(context: RoleContext) async

    /// Whether ``handle(_:context:)`` may let the next envelope be claimed before it returns, by
    /// calling `BusWorker.allowNextClaim()` (``BusWorker/Options/overlap``). The default is false.
    var overlap: Bool { get }
}

extension Role {
    public func idle(context: RoleContext) async {}

    public var overlap: Bool { false }
}

/// What a role's handler may use: the bus, its identity, its settings, its heartbeat.
public struct RoleContext: Sendable {
    /// The bus the role serves.
    public let bus: Bus
    /// This process's identity.
    public let worker: WorkerID
    /// The role's settings (instance, agent, model, limits).
    public let settings: RoleSettings
    /// This process's heartbeat: call ``HeartbeatWriter/progressed()`` when work moves forward.
    public let heartbeat: HeartbeatWriter
    /// The role's logger.
    public let logger: Logger

    /// Runs this role's agent calls (``AgentCaller/isEnabled`` is false when the role is offline).
    public var agents: AgentCaller {
        AgentCaller(settings: settings.agents, layout: bus.layout, worker: worker.description)
    }
}
