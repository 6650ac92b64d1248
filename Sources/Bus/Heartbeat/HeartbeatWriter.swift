import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Writes one worker's heartbeat file, `hb/<role>/<worker>.json`, by tmp + rename.
///
/// ``run()`` rewrites it every `heartbeat_ms` until cancelled. A state change is written at once;
/// claim and progress changes are written by ``run()`` within ``flushInterval`` (a heartbeat
/// rewrite per claim and per ack would cost more than the envelope itself). Observers judge
/// liveness by `seq` alone, so the claim list may lag that briefly. Heartbeats are not fsynced:
/// after a crash, a missing or stale heartbeat is what an observer should see anyway.
public final class HeartbeatWriter: Sendable {
    private let layout: BusLayout
    private let intervalMs: Int
    private let current: Mutex<Heartbeat>
    private let dirty = Mutex(false)
    private let progressHeld = Atomic<Bool>(false)
    /// How soon a claim or progress change reaches the file.
    public let flushInterval: Duration

    /// A writer for `worker`; nothing is written until ``beat()`` or ``run()``.
    public init(bus: Bus, worker: WorkerID) {
        self.layout = bus.layout
        self.intervalMs = bus.settings.heartbeatMs
        self.flushInterval = .milliseconds(min(100, bus.settings.heartbeatMs))
        let start = ProcessInfo.startTime(of: getpid()) ?? 0
        self.current = Mutex(Heartbeat(worker: worker, processStart: start))
    }

    /// The heartbeat as last written.
    public var snapshot: Heartbeat { current.withLock { $0 } }

    /// Writes the heartbeat now, with `seq` bumped.
    /// - Throws: ``BusError`` when the file cannot be written.
    public func beat() throws(BusError) {
        dirty.withLock { $0 = false }
        let (bytes, worker) = current.withLock { hb -> ([UInt8], WorkerID) in
            hb.seq += 1
            hb.updated = .now()
            return (Array((hb.json.serialized() + "\n").utf8), hb.worker)
        }
        try FileOps.writeAtomically(
            bytes, to: layout.heartbeat(worker), stagingDirectory: layout.tmp, mode: Bus.fileMode, durable: false)
    }

    /// Changes the state, and writes at once.
    ///
    /// Once `stopping`, only `stopped` replaces it, so a late `idle` or `working` from the worker's
    /// loop never hides a stop in progress; `idle` during a backoff with an end
    /// (``backoff(until:reason:)``) stays `backoff`.
    public func set(state: Heartbeat.State) {
        current.withLock { hb in
            if hb.state == .stopped || (hb.state == .stopping && state != .stopped) { return }
            // Idle during a backoff with an end is that backoff (ended by ``endBackoff(ifDueAt:)``).
            hb.state = state == .idle && hb.backoffUntil != nil ? .backoff : state
        }
        try? beat()
    }

    /// Records a claim taken (`true`) or let go (`false`), bumping progress.
    public func update(claim: Heartbeat.HeldClaim, held: Bool) {
        current.withLock { hb in
            if held {
                hb.claims.append(claim)
                if hb.state != .stopping && hb.state != .stopped { hb.state = .working }
            } else {
                hb.claims.removeAll { $0 == claim }
                if hb.claims.isEmpty && hb.state == .working { hb.state = hb.backoffUntil == nil ? .idle : .backoff }
            }
            if !progressHeld.load(ordering: .relaxed) { hb.progress += 1 }
        }
        dirty.withLock { $0 = true }
    }

    /// Enters backoff until `until`: the worker claims nothing more before then (a rate or usage
    /// limit that resets at `until`, say), and the heartbeat says so with `state: backoff` and
    /// `info.backoff_until` (`until` in RFC 3339) and `info.backoff_reason`. Written at once.
    ///
    /// A call replaces the backoff in force. While a claim is held the state stays `working`, and
    /// turns to `backoff` when the last claim is let go. The ``BusWorker`` ends the backoff when
    /// `until` has passed.
    public func backoff(until: Timestamp, reason: String) {
        current.withLock { hb in
            hb.info[Heartbeat.backoffUntilKey] = .string(until.description)
            hb.info[Heartbeat.backoffReasonKey] = .string(reason)
            if hb.claims.isEmpty && hb.state != .stopping && hb.state != .stopped { hb.state = .backoff }
        }
        try? beat()
    }

    /// The end of the backoff in force, or `nil` when there is none (it may have passed but not
    /// yet been ended by ``endBackoff(ifDueAt:)``).
    public var backoffUntil: Timestamp? { current.withLock { $0.backoffUntil } }

    /// Ends the backoff in force if it ends at or before `now`: the backoff details leave `info`,
    /// and the state returns to `idle` (`working` while a claim is held). Written at once.
    /// - Returns: whether a backoff was ended.
    @discardableResult
    public func endBackoff(ifDueAt now: Timestamp = .now()) -> Bool {
        let ended = current.withLock { hb -> Bool in
            guard let until = hb.backoffUntil, until <= now else { return false }
            hb.info[Heartbeat.backoffUntilKey] = nil
            hb.info[Heartbeat.backoffReasonKey] = nil
            if hb.state == .backoff { hb.state = hb.claims.isEmpty ? .idle : .working }
            return true
        }
        if ended { try? beat() }
        return ended
    }

    /// Bumps the progress counter (a sign of forward motion, not just of life).
    public func progressed() {
        guard !progressHeld.load(ordering: .relaxed) else { return }
        current.withLock { $0.progress += 1 }
        dirty.withLock { $0 = true }
    }

    /// Freezes (`true`) or frees the progress counter. A worker holds it while a handler that
    /// overran its limit and ignored cancellation still runs: the process is stuck in part, and a
    /// frozen counter lets a supervisor see that and replace it.
    public func holdProgress(_ hold: Bool) {
        progressHeld.store(hold, ordering: .relaxed)
    }

    /// Sets a free-form detail (a model name, the current step) for people reading the heartbeat.
    public func set(info key: String, _ value: JSONValue?) {
        current.withLock { $0.info[key] = value }
        dirty.withLock { $0 = true }
    }

    /// Rewrites the heartbeat every `heartbeat_ms`, and within ``flushInterval`` of a claim or
    /// progress change, until cancelled. Write errors (a full disk, a vanished bus) are retried on
    /// the next tick.
    ///
    /// The loop runs on a dedicated thread, so a handler that blocks the concurrency pool (two
    /// threads on a two-core machine) cannot silence the heartbeat and cause a false take-over.
    public func run() async {
        let stop = StopFlag()
        let flushMicros = UInt32(
            clamping: flushInterval.components.seconds * 1_000_000
                + flushInterval.components.attoseconds / 1_000_000_000_000)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [self] in
                    var last = ContinuousClock.now
                    try? beat()
                    while !stop.isSet {
                        usleep(flushMicros)
                        if stop.isSet { break }
                        let now = ContinuousClock.now
                        if dirty.withLock({ $0 }) || now - last >= .milliseconds(intervalMs) {
                            last = now
                            try? beat()
                        }
                    }
                    done.resume()
                }
                thread.name = "planbus-heartbeat"
                thread.start()
            }
        } onCancel: {
            stop.set()
        }
    }
}
