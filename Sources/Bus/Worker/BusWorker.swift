import Logging
import ServiceLifecycle
import Synchronization

/// The loop every role process runs: wake, claim, handle, ack or nack, heartbeat, tidy.
///
/// A `Service`: run it in a `ServiceGroup`. On graceful shutdown (SIGTERM), or when a stop file
/// names it in `ctl/` (``StopFiles``), it stops claiming, marks its heartbeat `stopping`, lets the
/// envelope in hand finish within ``Options/stopGrace`` (else releases it for another worker),
/// marks its heartbeat `stopped`, and returns.
///
/// Progress: the worker bumps its heartbeat's `progress` on every claim and settle and on every
/// janitor pass, so a supervisor that sees `progress` stall knows the process is stuck (stopped,
/// deadlocked, or holding a handler that ignored its cancellation), even while its heartbeat
/// thread still writes.
public struct BusWorker: Service {
    /// Limits on handler calls.
    public struct Options: Sendable {
        /// Longest a handler may work on one envelope; it is then cancelled and the envelope
        /// retried (`nil` = no limit).
        public var envelopeTimeout: Duration?
        /// After a stop request, how long the handler in progress may go on before it is cancelled
        /// and its envelope released to another worker.
        public var stopGrace: Duration

        public init(envelopeTimeout: Duration? = nil, stopGrace: Duration = .seconds(10)) {
            self.envelopeTimeout = envelopeTimeout
            self.stopGrace = stopGrace
        }
    }

    /// The identity claims and journal lines are written under.
    public let worker: WorkerID
    /// The queue this worker reads.
    public let queue: RoleQueue
    /// This worker's heartbeat.
    public let heartbeat: HeartbeatWriter
    /// The janitor this worker runs every `janitor_ms` for its own role.
    public let janitor: Janitor
    /// Where wake-ups come from.
    public let wake: WakeSource
    private let handler: EnvelopeHandler
    private let logger: Logger
    private let bus: Bus
    private let observer: (@Sendable (WakeBatch) -> Void)?
    private let options: Options
    private let stopping = StopFlag()
    private let abandoned: AbandonedHandlers

    /// A worker for `role` on `bus`.
    /// - Parameters:
    ///   - observe: called with every wake batch (for diagnostics and tests).
    ///   - options: the envelope timeout and the stop grace.
    ///   - heartbeat: the heartbeat writer to use (made for `worker` when `nil`), for handlers
    ///     that report progress.
    ///   - handler: decides each claimed envelope.
    public init(
        bus: Bus, role: String, worker: WorkerID, logger: Logger, options: Options = Options(),
        heartbeat: HeartbeatWriter? = nil, observe: (@Sendable (WakeBatch) -> Void)? = nil,
        handler: @escaping EnvelopeHandler
    ) throws(BusError) {
        self.options = options
        self.bus = bus
        self.worker = worker
        let heartbeat = heartbeat ?? HeartbeatWriter(bus: bus, worker: worker)
        self.heartbeat = heartbeat
        self.abandoned = AbandonedHandlers(heartbeat: heartbeat)
        self.queue = try RoleQueue(bus: bus, role: role, worker: worker, heartbeat: heartbeat)
        self.janitor = Janitor(bus: bus, worker: worker)
        self.wake = WakeSource(directories: [bus.layout.new(role)], root: bus.layout.root, settings: bus.settings)
        self.handler = handler
        self.logger = logger
        self.observer = observe
    }

    public func run() async throws {
        // The first heartbeat precedes the first claim, so no claim is ever without one.
        try heartbeat.beat()
        logger.info(
            "worker started",
            metadata: ["worker": "\(worker)", "wake": "\(wake.mode.rawValue)", "why": "\(wake.modeReason)"])
        let stopping = self.stopping
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await heartbeat.run() }
            group.addTask { await wake.runTimers() }
            let stop: @Sendable () -> Void = {
                stopping.set()
                heartbeat.set(state: .stopping)
                wake.finish()
            }
            group.addTask { await runJanitor(stop: stop) }
            await withGracefulShutdownHandler {
                await mainLoop(stopping: stopping)
            } onGracefulShutdown: {
                stop()
            }
            group.cancelAll()
        }
        heartbeat.set(state: .stopped)
        logger.info("worker stopped", metadata: ["worker": "\(worker)"])
    }

    private func runJanitor(stop: @Sendable () -> Void) async {
        let stopFiles = StopFiles(layout: bus.layout)
        while !Task.isCancelled {
            if let file = stopFiles.request(for: worker) {
                logger.info("stop requested", metadata: ["file": "\(file)"])
                stop()
                return
            }
            // Forward motion of the process as a whole (held while a handler that overran its limit
            // still runs, so that a stuck process shows as stalled).
            heartbeat.progressed()
            // A backoff whose time has come ends here too when no wake-up has come to end it.
            heartbeat.endBackoff()
            let report = janitor.pass(roles: [queue.role])
            if report.expired + report.requeued > 0 { wake.requestRescan("janitor") }
            if !report.isEmpty { logger.debug("janitor pass", metadata: ["report": "\(report.json.serialized())"]) }
            do {
                try await Task.sleep(for: .milliseconds(bus.settings.janitorMs))
            } catch {
                return
            }
        }
    }

    private func mainLoop(stopping: StopFlag) async {
        let newDirectory = bus.layout.new(queue.role)
        for await batch in wake {
            if stopping.isSet { break }
            observer?(batch)
            var names: [String]
            if batch.rescan {
                do {
                    names = try queue.pendingNames()
                } catch {
                    logger.error("cannot list the queue", metadata: ["error": "\(error)"])
                    await backoff()
                    continue
                }
            } else {
                names = batch.names[newDirectory] ?? []
            }
            var failures = 0
            for name in names {
                if stopping.isSet || Task.isCancelled { break }
                if await waitOutBackoff(stopping: stopping) {
                    // Names listed before the wait may be stale, and arrivals during it unheard of.
                    wake.requestRescan("backoff-over")
                    break
                }
                let result: RoleQueue.ClaimResult
                do {
                    result = try queue.claim(name)
                    failures = 0
                } catch {
                    // One file that cannot be claimed must not hold up the others; repeated
                    // failures mean the bus itself is in trouble (full, read-only): back off.
                    logger.error("claim failed", metadata: ["name": "\(name)", "error": "\(error)"])
                    failures += 1
                    if failures < 3 { continue }
                    await backoff()
                    wake.requestRescan("claim-error")
                    break
                }
                switch result {
                case .claimed(let claim):
                    await process(claim, stopping: stopping)
                case .deadLettered(let reason):
                    logger.warning("dead-lettered", metadata: ["name": "\(name)", "reason": "\(reason)"])
                case .lost, .ignored:
                    continue
                }
            }
        }
    }

    private func process(_ claim: Claim, stopping: StopFlag) async {
        let run = HandlerRun(
            timeout: options.envelopeTimeout, stopGrace: options.stopGrace, stopping: stopping, abandoned: abandoned)
        var disposition: Disposition
        switch await run.run(claim, handler: handler) {
        case .finished(let decided):
            disposition = decided
        case .timedOut:
            let limit = options.envelopeTimeout.map { "\($0)" } ?? "?"
            logger.warning("handler timed out", metadata: ["id": "\(claim.envelope.id)", "limit": "\(limit)"])
            disposition = .retry("handler timed out after \(limit)")
        case .graceOver:
            logger.warning("stop grace over; releasing", metadata: ["id": "\(claim.envelope.id)"])
            disposition = .release("worker stopping: the handler did not finish within \(options.stopGrace)")
        }
        await settle(claim, disposition, stopping: stopping)
        if case .defer(let until, let reason) = disposition {
            // Whatever became of the claim, the limit it met is this process's: claim nothing
            // before `until`.
            logger.info(
                "deferred; backing off",
                metadata: ["id": "\(claim.envelope.id)", "until": "\(until)", "reason": "\(reason)"])
            heartbeat.backoff(until: until, reason: reason)
        }
    }

    /// Settles a claim as `disposition` says.
    private func settle(_ claim: Claim, _ disposition: Disposition, stopping: StopFlag) async {
        var disposition = disposition
        // Settle the claim; a bus that refuses writes (a full disk) is retried with backoff, so the
        // claim is never left behind a live worker.
        while true {
            do {
                switch disposition {
                case .ack(let outputs): try queue.ack(claim, outputs: outputs)
                case .retry(let reason): try queue.nack(claim, reason: reason)
                case .dead(let reason): try queue.deadLetter(claim, reason: reason)
                case .release(let reason): try queue.release(claim, reason: reason)
                case .defer(let until, let reason): try queue.deferClaim(claim, until: until, reason: reason)
                }
                return
            } catch let error where error.code == .fenced {
                logger.warning(
                    "late step refused by fencing", metadata: ["id": "\(claim.envelope.id)", "epoch": "\(claim.epoch)"])
                return
            } catch let error where error.code == .invalidEnvelope {
                logger.error("handler produced an invalid result", metadata: ["error": "\(error)"])
                disposition = .retry("invalid result: \(error.message)")
            } catch {
                logger.error("cannot settle a claim", metadata: ["id": "\(claim.envelope.id)", "error": "\(error)"])
                if stopping.isSet {
                    // Leave it to the janitors: this worker's stopped heartbeat releases it.
                    return
                }
                await backoff()
            }
        }
    }

    /// Enters backoff until `until`: this worker claims nothing before then, and its heartbeat
    /// says `backoff` with `info.backoff_until` and `info.backoff_reason` meanwhile. For a role
    /// that meets a rate or usage limit outside a handler's envelope; a handler that meets one
    /// returns ``Disposition/defer(until:reason:)`` instead, which hands its envelope back too.
    /// (A role's handler may also call ``HeartbeatWriter/backoff(until:reason:)`` on the worker's
    /// heartbeat, to the same effect.)
    public func backoff(until: Timestamp, reason: String) {
        heartbeat.backoff(until: until, reason: reason)
    }

    /// Waits while a backoff is in force, until its end or a stop; `true` when it waited.
    private func waitOutBackoff(stopping: StopFlag) async -> Bool {
        var waited = false
        while !stopping.isSet, !Task.isCancelled, let until = heartbeat.backoffUntil {
            if heartbeat.endBackoff() { break }
            waited = true
            await stopping.wait(until: until)
        }
        return waited
    }

    private func backoff() async {
        heartbeat.set(state: .backoff)
        try? await Task.sleep(for: .milliseconds(min(bus.settings.pollMs * 2, 2_000)))
        heartbeat.set(state: .idle)
    }
}
