import Bus
import Logging
import ServiceLifecycle

/// Turns a backlog folder into a pipeline: every plan file dropped there is submitted to the
/// planner exactly once and moved to `submitted/`, or refused with its error written beside it
/// in `refused/` (``BacklogFolder`` shows the layout).
///
/// It runs in the planner's process next to its ``BusWorker`` (``RoleRuntime/run(alongside:)``).
/// It scans the folder at start and on every wake-up: inotify on a local filesystem (with the
/// bus's periodic rescan), else a poll at the bus's `poll_ms`. The scan is the source of truth; a
/// wake-up only makes it sooner. At start it first finishes the files a previous process left in
/// `.taking/`, with the same ids, so a crash never makes a second run.
///
/// Only a file that has stopped changing is taken: one last modified at least ``settle`` ago, or
/// whose size and modification time have stayed the same for ``settle``, so a plan being copied
/// in is not taken half written. On graceful shutdown it finishes the file in hand and returns.
public struct BacklogService: Service {
    /// The folder served.
    public let folder: BacklogFolder
    /// How long a file must have stayed unchanged before it is taken.
    public let settle: Duration
    let intake: BacklogIntake
    let wake: WakeSource
    let logger: Logger

    /// A service for the backlog at `folder`, sending goals to `bus` as `worker`.
    ///
    /// Creates the folder and its `.taking`, `submitted` and `refused` folders when missing.
    /// - Parameter agents: the planner's agent settings: a task without a `run` step is accepted
    ///   when they say the builder drives an agent.
    /// - Throws: ``RoleError`` `io` when they cannot be made.
    public init(
        folder: BacklogFolder, bus: Bus, worker: WorkerID, logger: Logger, settle: Duration = .milliseconds(500),
        agents: AgentSettings = .offline
    ) throws(RoleError) {
        try folder.prepare()
        self.folder = folder
        self.settle = settle
        self.logger = logger
        self.intake = BacklogIntake(
            folder: folder, bus: bus, publisher: Publisher(bus: bus, worker: worker), agents: agents)
        self.wake = WakeSource(directories: [folder.path], root: folder.path, settings: bus.settings)
    }

    public func run() async throws {
        logger.info(
            "backlog started", metadata: ["backlog": "\(folder.path)", "wake": "\(wake.mode.rawValue)"])
        var scanner = Scanner(service: self)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await wake.runTimers() }
            await withGracefulShutdownHandler {
                for await _ in wake {
                    if Task.isShuttingDownGracefully { break }
                    if let due = scanner.scan() {
                        group.addTask { [wake] in
                            try? await Task.sleep(until: due)
                            wake.requestRescan("settle")
                        }
                    }
                }
            } onGracefulShutdown: {
                wake.finish()
            }
            group.cancelAll()
        }
        logger.info("backlog stopped", metadata: ["backlog": "\(folder.path)"])
    }

    /// What the service remembers between scans.
    struct Scanner {
        let service: BacklogService
        /// Taken files not finished yet: those left in `.taking/` at start, and those whose
        /// finishing failed (retried at every scan).
        var unfinished: [BacklogTicket]
        /// Files seen not yet settled: what they looked like and since when.
        var unsettled: [String: (arrival: BacklogFolder.Arrival, since: ContinuousClock.Instant)] = [:]
        /// The last error logged for each problem, so a lasting one is logged once.
        var errors: [String: String] = [:]
        /// When a settle rescan is already asked for.
        var timer: ContinuousClock.Instant?

        init(service: BacklogService) {
            self.service = service
            var leftovers: [BacklogTicket] = []
            do {
                leftovers = try service.folder.leftovers()
            } catch {
                service.logger.error("backlog cannot list .taking", metadata: ["error": "\(error.message)"])
            }
            unfinished = leftovers
        }

        /// One pass over the folder. Returns when a rescan is needed for a file to settle.
        mutating func scan() -> ContinuousClock.Instant? {
            let waiting = unfinished
            unfinished = []
            for ticket in waiting where !Task.isShuttingDownGracefully { finish(ticket) }
            let arrivals: [BacklogFolder.Arrival]
            do {
                arrivals = try service.folder.arrivals()
                report("list", nil)
            } catch {
                report("list", error.message)
                return nil
            }
            let now = ContinuousClock.now
            let wallNow = Int64(Timestamp.now().milliseconds) * 1_000_000
            let (seconds, attoseconds) = service.settle.components
            let settleNs = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            var next: ContinuousClock.Instant?
            for arrival in arrivals where !Task.isShuttingDownGracefully {
                var ready = wallNow - arrival.modified >= settleNs
                if !ready {
                    if let seen = unsettled[arrival.name], seen.arrival == arrival {
                        ready = now - seen.since >= service.settle
                    } else {
                        unsettled[arrival.name] = (arrival, now)
                    }
                }
                guard ready else {
                    let due = unsettled[arrival.name]!.since + service.settle
                    next = min(next ?? due, due)
                    continue
                }
                unsettled[arrival.name] = nil
                take(arrival.name)
            }
            let present = Set(arrivals.map(\.name))
            unsettled = unsettled.filter { present.contains($0.key) }
            guard let next, timer.map({ $0 <= now || $0 > next }) ?? true else { return nil }
            timer = next
            return next
        }

        mutating func take(_ name: String) {
            do {
                guard
                    let ticket = try service.folder.take(
                        name, at: .now(), durable: service.intake.bus.settings.durable)
                else { return }
                report("take " + name, nil)
                finish(ticket)
            } catch {
                report("take " + name, error.message)
            }
        }

        mutating func finish(_ ticket: BacklogTicket) {
            let logger = service.logger
            do {
                switch try service.intake.finish(ticket) {
                case .submitted(let run, let goal, let moved):
                    logger.info(
                        "backlog plan submitted",
                        metadata: [
                            "file": "\(ticket.name)", "run": "\(run)", "goal": "\(goal)", "moved": "\(moved)",
                        ])
                case .refused(let error, let moved):
                    logger.warning(
                        "backlog plan refused",
                        metadata: ["file": "\(ticket.name)", "moved": "\(moved)", "error": "\(error)"])
                }
                report(ticket.fileName, nil)
            } catch {
                unfinished.append(ticket)
                report(ticket.fileName, error.message)
            }
        }

        /// Logs `error` for `key` when it differs from the last one logged (`nil`: it went away).
        mutating func report(_ key: String, _ error: String?) {
            guard errors[key] != error else { return }
            errors[key] = error
            if let error { service.logger.error("backlog: \(error)", metadata: ["backlog": "\(service.folder.path)"]) }
        }
    }
}
