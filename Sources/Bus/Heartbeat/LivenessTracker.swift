import Synchronization

/// Judges whether claim holders are alive, on this observer's own monotonic clock.
///
/// A worker is dead when:
/// - it is on this host and boot, and its pid is gone or now belongs to another process (fast path);
/// - its heartbeat says `stopped`;
/// - its heartbeat's `seq` has not changed for `lease_ms`, measured from the moment this observer
///   last saw it change (or first looked, for a missing heartbeat).
///
/// mtimes and wall clocks are never compared, so clock skew between hosts changes nothing.
public final class LivenessTracker: Sendable {
    /// An observer's judgement.
    public enum Verdict: Sendable, Equatable {
        case alive
        case dead(String)
    }

    private struct Seen {
        var seq: Int?
        var changedAt: ContinuousClock.Instant
    }

    private let layout: BusLayout
    private let lease: Duration
    private let seen = Mutex<[String: Seen]>([:])

    /// A tracker for the bus at `layout`, with lease `leaseMs`.
    public init(layout: BusLayout, leaseMs: Int) {
        self.layout = layout
        self.lease = .milliseconds(leaseMs)
    }

    /// Judges `worker` now, reading its heartbeat once.
    public func verdict(for worker: WorkerID) -> Verdict {
        let hb = Heartbeat.read(worker, layout: layout)
        // An empty boot id means "unknown": fall back to the pid check rather than assume a reboot.
        if worker.host == Host.name, hb == nil || hb!.bootID == Host.bootID || hb!.bootID.isEmpty {
            guard let start = ProcessInfo.startTime(of: worker.pid) else {
                return .dead("process \(worker.pid) is gone")
            }
            if let hb, hb.processStart != 0, hb.processStart != start {
                return .dead("pid \(worker.pid) now belongs to another process")
            }
        } else if let hb, worker.host == Host.name, hb.bootID != Host.bootID {
            return .dead("host rebooted since the heartbeat was written")
        }
        if let hb, hb.state == .stopped { return .dead("worker stopped") }
        let now = ContinuousClock.now
        let key = worker.description
        return seen.withLock { table -> Verdict in
            guard var entry = table[key] else {
                table[key] = Seen(seq: hb?.seq, changedAt: now)
                return .alive
            }
            if entry.seq != hb?.seq {
                entry.seq = hb?.seq
                entry.changedAt = now
                table[key] = entry
                return .alive
            }
            let silent = now - entry.changedAt
            if silent >= lease {
                let ms = silent.components.seconds * 1000 + silent.components.attoseconds / 1_000_000_000_000_000
                return .dead(hb == nil ? "no heartbeat file for \(ms) ms" : "heartbeat unchanged for \(ms) ms")
            }
            return .alive
        }
    }

    /// Forgets a worker (after its claims are released).
    public func forget(_ worker: WorkerID) {
        _ = seen.withLock { $0.removeValue(forKey: worker.description) }
    }
}
