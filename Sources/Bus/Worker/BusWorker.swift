import Logging
import ServiceLifecycle
import Synchronization

/// The loop every role process runs: wake, claim, handle, ack or nack, heartbeat, tidy.
///
/// A `Service`: run it in a `ServiceGroup`. On graceful shutdown (SIGTERM), or when a stop file
/// names it in `ctl/` (``StopFiles``), it stops claiming, marks its heartbeat `stopping`, lets the
/// envelopes in hand finish within ``Options/stopGrace`` (else releases them for other workers),
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
        /// Whether a handler may let the worker claim its next envelope before it is done with the
        /// one it holds, by calling ``BusWorker/allowNextClaim()``: for a role whose handling ends
        /// with work that need not hold up the next envelope (a builder's commit and report, once
        /// its step has run). At most two envelopes are then in hand: the one finishing, and the
        /// next, which may not in turn let a third be claimed before the first is settled.
        public var overlap: Bool

        public init(envelopeTimeout: Duration? = nil, stopGrace: Duration = .seconds(10), overlap: Bool = false) {
            self.envelopeTimeout = envelopeTimeout
            self.stopGrace = stopGrace
            self.overlap = overlap
        }
    }

    /// Called by a handler of a worker with ``Options/overlap``: the worker may claim its next
    /// envelope now, while this handler finishes the one it holds. Does nothing in a worker
    /// without overlap, outside a handler, or when called again. Call it only once the envelope
    /// will not be deferred (``Disposition/defer(until:reason:)``): the next envelope is claimed
    /// at once, before the backoff a deferral sets.
    public static func allowNextClaim() {
        NextClaimGate.current?.open()
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
    private let idle: (@Sendable () async -> Void)?
    private let options: Options
    private let stopping = StopFlag()
    private let abandoned: AbandonedHandlers
    /// The pauses while the bus refuses writes, and the error that stops the worker for good.
    private let trouble: BusTrouble

    /// A worker for `role` on `bus`.
    /// - Parameters:
    ///   - observe: called with every wake batch (for diagnostics and tests).
    ///   - options: the envelope timeout and the stop grace.
    ///   - heartbeat: the heartbeat writer to use (made for `worker` when `nil`), for handlers
    ///     that report progress.
    ///   - idle: called, between handlers, once the worker has handled an envelope and then
    ///     finds its queue empty at the end of a wake batch, and once more on the way out when it
    ///     handled any since; for a handler that keeps something from one envelope to the next
    ///     (such as a builder's work tree) to let it go.
    ///   - handler: decides each claimed envelope.
    public init(
        bus: Bus, role: String, worker: WorkerID, logger: Logger, options: Options = Options(),
        heartbeat: HeartbeatWriter? = nil, observe: (@Sendable (WakeBatch) -> Void)? = nil,
        idle: (@Sendable () async -> Void)? = nil, handler: @escaping EnvelopeHandler
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
        self.idle = idle
        self.trouble = BusTrouble(pollMs: bus.settings.pollMs)
    }

    /// Runs until a stop. While the bus refuses writes (a full or read-only filesystem) the
    /// worker backs off and tries again, and goes on by itself once writes succeed.
    /// - Throws: ``BusError`` when the bus folder is gone (deleted while in use): the worker
    ///   cannot go on, and stops.
    public func run() async throws {
        let stopping = self.stopping
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await heartbeat.run() }
            group.addTask { await wake.runTimers() }
            let stop: @Sendable () -> Void = { requestStop() }
            group.addTask { await runJanitor(stop: stop) }
            await withGracefulShutdownHandler {
                // The first heartbeat precedes the first claim, so no claim is ever without one.
                guard await firstBeat() else { return }
                logger.info(
                    "worker started",
                    metadata: ["worker": "\(worker)", "wake": "\(wake.mode.rawValue)", "why": "\(wake.modeReason)"])
                await mainLoop(stopping: stopping)
            } onGracefulShutdown: {
                stop()
            }
            group.cancelAll()
        }
        heartbeat.set(state: .stopped)
        if let error = trouble.fatal {
            logger.error("worker stopped: the bus is gone", metadata: ["worker": "\(worker)", "error": "\(error)"])
            throw error
        }
        logger.info("worker stopped", metadata: ["worker": "\(worker)"])
    }

    /// Stops claiming, marks the heartbeat `stopping`, and ends the wake-ups.
    private func requestStop() {
        stopping.set()
        heartbeat.set(state: .stopping)
        wake.finish()
    }

    /// Writes the first heartbeat, backing off while the bus refuses it; false when the worker
    /// stopped first.
    private func firstBeat() async -> Bool {
        while !stopping.isSet {
            do {
                try heartbeat.beat()
                recovered()
                return true
            } catch {
                await pause(after: error, doing: "cannot write the first heartbeat")
            }
        }
        return false
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
            if lookAtTheBus() {
                stop()
                return
            }
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
        // Whether an envelope was handled since the idle hook last ran.
        var handled = false
        // With overlap: the envelope whose handler let the next one be claimed, until it is settled.
        var finishing: (work: Task<Void, Never>, gate: NextClaimGate)?
        for await batch in wake {
            if stopping.isSet { break }
            observer?(batch)
            var names: [String]
            if batch.rescan {
                do {
                    names = try queue.pendingNames()
                } catch {
                    await pause(after: error, doing: "cannot list the queue")
                    wake.requestRescan("bus-error")
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
                    recovered()
                } catch {
                    // One file that cannot be claimed must not hold up the others; a full or
                    // read-only filesystem, or repeated failures, mean the bus itself is in
                    // trouble: back off.
                    failures += 1
                    if failures < 3 && problem(of: error) == nil {
                        logger.error("claim failed", metadata: ["name": "\(name)", "error": "\(error)"])
                        continue
                    }
                    await pause(after: error, doing: "claim of \(name) failed")
                    wake.requestRescan("claim-error")
                    break
                }
                switch result {
                case .claimed(let claim):
                    if options.overlap {
                        let gate = NextClaimGate()
                        let work = Task {
                            await NextClaimGate.$current.withValue(gate) { await process(claim, stopping: stopping) }
                            gate.settle()
                        }
                        await gate.wait()
                        // Two in hand at most: the one before is settled before another is claimed.
                        await finishing?.work.value
                        finishing = (work, gate)
                    } else {
                        await process(claim, stopping: stopping)
                    }
                    handled = true
                case .deadLettered(let reason):
                    logger.warning("dead-lettered", metadata: ["name": "\(name)", "reason": "\(reason)"])
                case .lost, .ignored:
                    continue
                }
            }
            // A listing that fails says nothing is waiting: the hook only lets go of what was kept,
            // once nothing is in hand. While an envelope is still finishing, the worker goes on
            // waiting for wake-ups (a new envelope is claimed at once); the envelope's settling
            // asks for a rescan, after which the queue is looked at again.
            if handled, let idle, stopping.isSet || (try? queue.pendingNames().isEmpty) ?? true {
                let wake = self.wake
                if !stopping.isSet, let finishing,
                    finishing.gate.whenSettled({ wake.requestRescan("settled") })
                {
                    continue
                }
                await finishing?.work.value
                finishing = nil
                await idle()
                handled = false
            }
        }
        await finishing?.work.value
        if handled, let idle { await idle() }
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
                recovered()
                return
            } catch let error where error.code == .fenced {
                logger.warning(
                    "late step refused by fencing", metadata: ["id": "\(claim.envelope.id)", "epoch": "\(claim.epoch)"])
                return
            } catch let error where error.code == .invalidEnvelope {
                logger.error("handler produced an invalid result", metadata: ["error": "\(error)"])
                disposition = .retry("invalid result: \(error.message)")
            } catch {
                if stopping.isSet {
                    logger.error(
                        "cannot settle a claim; leaving it to the janitors",
                        metadata: ["id": "\(claim.envelope.id)", "error": "\(error)"])
                    // Leave it to the janitors: this worker's stopped heartbeat releases it.
                    return
                }
                await pause(after: error, doing: "cannot settle the claim of \(claim.envelope.id)")
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

    /// Notes a step that succeeded, saying so when it ends a run of failures.
    private func recovered() {
        let ended = trouble.succeeded()
        guard ended.failures > 0 else { return }
        logger.notice(
            "the bus takes writes again after \(ended.failures) failed attempt\(ended.failures == 1 ? "" : "s")",
            metadata: ["worker": "\(worker)", "problem": "\(ended.problem?.rawValue ?? "i/o error")"])
    }

    /// The problem of the whole bus behind `error`, if it comes from one.
    private func problem(of error: any Error) -> BusProblem? {
        guard let error = error as? BusError else { return nil }
        return error.onBus(bus.layout).busProblem
    }

    /// Backs off after a failed step: logs what is wrong and what to do, says `backoff` in the
    /// heartbeat (with `info.backoff_until` and `info.backoff_reason`, written when the bus takes
    /// writes again), and waits the pause ``BusTrouble`` gives, or until a stop. A bus folder that
    /// is gone stops the worker instead.
    private func pause(after error: any Error, doing step: String) async {
        let said = (error as? BusError).map { $0.onBus(bus.layout) }
        let problem = said?.busProblem ?? BusProblem.check(bus.layout)
        if problem == .missing {
            stopForGood(said ?? BusError(.notFound, "\(step): \(error)").onBus(bus.layout), step: step)
            return
        }
        let pause = trouble.failed(problem)
        let text = said.map { "\($0)" } ?? "\(error)"
        // One line per pause: at most one every 10 s (the cap) while the trouble lasts.
        logger.warning(
            "\(step); backing off \(pause.delayMs) ms, attempt \(pause.attempt) (bus unavailable: \(text))",
            metadata: ["worker": "\(worker)"])
        let until = Timestamp(milliseconds: Timestamp.now().milliseconds + pause.delayMs)
        heartbeat.backoff(until: until, reason: problem.map { $0.headline(root: bus.layout.root) } ?? text)
        heartbeat.set(state: .backoff)
        await stopping.wait(until: until)
        heartbeat.endBackoff()
    }

    /// One look at the bus folder per janitor pass: says once when it turns full or read-only
    /// (an idle worker learns it no other way), and stops the worker when it is gone. True when
    /// the worker must stop.
    private func lookAtTheBus() -> Bool {
        let problem = BusProblem.check(bus.layout)
        if problem == .missing {
            stopForGood(
                BusError(.notFound, "no \(bus.layout.versionFile)").onBus(bus.layout), step: "the bus folder is gone")
            return true
        }
        if trouble.seen(problem), let problem {
            logger.warning(
                "bus unavailable: \(problem.headline(root: bus.layout.root)); \(problem.advice(root: bus.layout.root))",
                metadata: ["worker": "\(worker)"])
        }
        return false
    }

    /// Stops the worker because its bus is gone; ``run()`` then throws `error`.
    private func stopForGood(_ error: BusError, step: String) {
        guard trouble.stopForGood(error) else { return }
        logger.error("\(step); stopping: \(error)", metadata: ["worker": "\(worker)"])
        requestStop()
    }
}
