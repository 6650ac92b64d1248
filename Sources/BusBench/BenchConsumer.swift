import Bus
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The consumer process of the throughput benchmark (`planbus bench bus-consumer`).
///
/// By default a real `BusWorker` (wake source, claim, envelope read, ack, heartbeat, janitor) whose
/// handler acks every envelope at once, so what is measured is the bus and nothing else. Without
/// heartbeats it runs the same wake→claim→ack loop on a `RoleQueue` that has no heartbeat writer
/// (and no janitor): a what-if measurement of what heartbeats cost a `BusWorker` (its periodic
/// rewrites and the flushes of claim changes).
public enum BenchConsumer {
    /// Runs a consumer for `role` on the bus at `busPath` until the process is terminated or its
    /// parent goes away.
    ///
    /// Once the consumer's wake source is live (its inotify watch is in place, or it is polling),
    /// the file `readyFile` is created, so the benchmark can start its clock knowing that nothing
    /// it publishes can be missed.
    /// - Parameters:
    ///   - busPath: the bus directory.
    ///   - role: the queue to consume.
    ///   - readyFile: created once the consumer is ready.
    ///   - heartbeat: `true` for a `BusWorker`; `false` for the loop without heartbeat writes.
    ///   - logger: the worker's logger.
    /// - Throws: `BusError` when the bus cannot be opened or the worker cannot start.
    public static func run(
        busPath: String, role: String, readyFile: String, heartbeat: Bool = true, logger: Logger
    ) async throws {
        let bus = try Bus.open(at: busPath)
        let worker = try WorkerID.current(role: role)
        let marker = ReadyMarker(path: readyFile, polling: bus.settings.wake == .poll)
        let parent = getppid()
        try await withThrowingTaskGroup(of: Void.self) { group in
            if heartbeat {
                let busWorker = try BusWorker(
                    bus: bus, role: role, worker: worker, logger: logger, observe: { marker.observe($0) },
                    handler: { _ in .ack([]) })
                group.addTask { try await busWorker.run() }
            } else {
                group.addTask {
                    try await consumeWithoutHeartbeat(bus: bus, role: role, worker: worker, marker: marker)
                }
            }
            group.addTask {
                // Never outlive the benchmark that started this process.
                while getppid() == parent {
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// `BusWorker`'s main loop (wake batch → claim each name → ack), with no heartbeat writer.
    private static func consumeWithoutHeartbeat(
        bus: Bus, role: String, worker: WorkerID, marker: ReadyMarker
    ) async throws {
        let queue = try RoleQueue(bus: bus, role: role, worker: worker)
        let newDirectory = bus.layout.new(role)
        let wake = WakeSource(directories: [newDirectory], root: bus.layout.root, settings: bus.settings)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await wake.runTimers() }
            for await batch in wake {
                marker.observe(batch)
                let names = batch.rescan ? try queue.pendingNames() : batch.names[newDirectory] ?? []
                for name in names {
                    if case .claimed(let claim) = try queue.claim(name) { try queue.ack(claim) }
                }
            }
            group.cancelAll()
        }
    }
}

/// Creates the ready file once, on the first wake batch that proves the wake source is live.
final class ReadyMarker: Sendable {
    private let path: String
    private let polling: Bool
    private let done = Atomic<Bool>(false)

    init(path: String, polling: Bool) {
        self.path = path
        self.polling = polling
    }

    func observe(_ batch: WakeBatch) {
        guard !done.load(ordering: .relaxed) else { return }
        let live =
            polling || batch.reasons.contains("watch-added") || batch.reasons.contains("inotify-failed")
            || batch.reasons.contains("poll")
        guard live, done.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
    }
}
