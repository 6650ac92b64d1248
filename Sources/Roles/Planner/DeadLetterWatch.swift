import Bus
import Logging
import ServiceLifecycle

/// Runs a ``DeadLetterScan`` in the planner's process next to its ``BusWorker``
/// (``RoleRuntime/run(alongside:)``): at start, which catches up on what was dead-lettered while
/// no planner ran, then every `janitor_ms` of the bus, as the worker's janitor passes do.
public struct DeadLetterWatch: Service {
    let scan: DeadLetterScan
    let interval: Duration
    let logger: Logger

    /// A watch of `bus` for the planner process `worker`.
    public init(bus: Bus, worker: WorkerID, logger: Logger) {
        self.scan = DeadLetterScan(bus: bus, worker: worker)
        self.interval = .milliseconds(bus.settings.janitorMs)
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [scan, interval, logger] in
            var lastError: String?
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                do throws(BusError) {
                    for id in try scan.pass() { logger.info("dead letter noticed", metadata: ["notice": "\(id)"]) }
                    lastError = nil
                } catch {
                    // Said once while it lasts; the next pass tries again.
                    if lastError != error.message {
                        logger.warning("cannot look for dead letters: \(error.message)")
                        lastError = error.message
                    }
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
