import Bus
import Processes

/// One role instance the supervisor keeps running: its current process and what the supervisor
/// has seen of it.
struct InstanceSlot {
    /// Why an instance is being stopped, which decides what happens when it exits.
    enum StopReason: String {
        /// The supervisor is shutting down: do not re-spawn.
        case shutdown
        /// Its heartbeat progress stalled: re-spawn (counts as a restart).
        case hung
        /// `planbus restart`: re-spawn at once with the re-read configuration.
        case restart
        /// Its role hit the restart intensity: do not re-spawn.
        case failed
        /// The role is stopping by itself (a stop file in `ctl/` names it): re-spawn only if the
        /// stop file does not name its role or the whole bus.
        case requested
    }

    enum Phase {
        /// Spawned; no heartbeat seen yet.
        case starting
        /// Heartbeating.
        case running
        /// Asked to stop; SIGKILL at the deadline.
        case stopping(reason: StopReason, deadline: ContinuousClock.Instant, killed: Bool)
        /// Waiting to be re-spawned.
        case backoff(until: ContinuousClock.Instant)
        /// Its role is failed.
        case failed
        /// Stopped for good (shutdown, or its role's stop file).
        case stopped

        var name: String {
            switch self {
            case .starting: return "starting"
            case .running: return "running"
            case .stopping(let reason, _, _): return reason == .hung ? "hung" : "stopping"
            case .backoff: return "backoff"
            case .failed: return "failed"
            case .stopped: return "stopped"
            }
        }
    }

    let role: String
    let instance: Int
    var phase: Phase = .stopped
    var child: ChildProcess?
    /// Bumped at every spawn, so a late exit event of an earlier process is recognised.
    var generation = 0
    var spawnedAt = ContinuousClock.now
    /// The process's start time (`/proc/<pid>/stat` field 22), which its heartbeat must carry.
    var processStart: Int64?
    var heartbeatPath: String?
    var heartbeat: Heartbeat?
    var seqChangedAt = ContinuousClock.now
    var progressChangedAt = ContinuousClock.now
    var restarts = 0
    var nextBackoff: Duration?
    var lastExit: String?

    init(role: String, instance: Int) {
        self.role = role
        self.instance = instance
    }

    var label: String { "\(role).\(instance)" }

    var hasProcess: Bool { child != nil }

    /// Notes a freshly read heartbeat, tracking when `seq` and `progress` last changed on the
    /// supervisor's monotonic clock.
    mutating func observe(_ hb: Heartbeat, now: ContinuousClock.Instant) {
        if let old = heartbeat {
            if old.seq != hb.seq { seqChangedAt = now }
            if old.progress != hb.progress { progressChangedAt = now }
        } else {
            seqChangedAt = now
            progressChangedAt = now
        }
        heartbeat = hb
    }

    var snapshot: SupervisorSnapshot.Instance {
        SupervisorSnapshot.Instance(
            role: role, instance: instance, pid: child?.pid, worker: heartbeat?.worker.description, phase: phase.name,
            restarts: restarts, lastExit: lastExit)
    }
}
