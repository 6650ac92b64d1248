import Bus
import Launcher

/// Where the killed role's process ran, as the replacement's janitor judges it.
public enum SessionKillMode: String, Sendable, CaseIterable {
    /// Under this host's name: a dead pid is seen at once.
    case sameHost = "same_host"
    /// Under another host name (`--host bench-other`): judged by its heartbeat alone.
    case otherHost = "other_host"

    /// For people.
    public var label: String { self == .sameHost ? "same host" : "other host" }
}

/// The kill measurement for one mode and one lease.
public struct SessionKillPoint: Sendable {
    /// Where the role ran.
    public var mode: SessionKillMode
    /// The bus lease.
    public var lease: Duration
    /// The bus heartbeat period.
    public var heartbeat: Duration
    /// The janitor period.
    public var janitor: Duration
    /// The runs that completed.
    public var samples: [SessionKillSample] = []
    /// The runs that did not, or completed wrongly (their messages are in the report's errors).
    public var errors = 0

    /// The lease in seconds.
    public var leaseSeconds: Double { Double(lease.milliseconds) / 1000 }

    /// Kill → done.
    public var done: SessionSpread { SessionSpread(samples.map(\.done)) }
    /// Kill → new pid.
    public var respawn: SessionSpread { SessionSpread(samples.compactMap(\.respawn)) }
    /// Kill → claim at epoch 2.
    public var reclaim: SessionSpread { SessionSpread(samples.compactMap(\.reclaim)) }
    /// Kill → done, minus the lease.
    public var doneMinusLease: SessionSpread { SessionSpread(samples.map { $0.done - leaseSeconds }) }
    /// (kill → done − lease) / lease, per run.
    public var overLease: SessionSpread {
        SessionSpread(samples.map { ($0.done - leaseSeconds) / leaseSeconds }, scale: 1, digits: 2)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "mode": .string(mode.rawValue), "lease_ms": .number(Double(lease.milliseconds)),
            "heartbeat_ms": .number(Double(heartbeat.milliseconds)),
            "janitor_ms": .number(Double(janitor.milliseconds)), "done_ms": done.json,
            "respawn_ms": respawn.json, "reclaim_ms": reclaim.json, "errors": .number(Double(errors)),
            "runs": .array(samples.map(\.json)),
        ]
        if mode == .otherHost {
            o["done_minus_lease_ms"] = doneMinusLease.json
            o["done_minus_lease_over_lease"] = overLease.json
        }
        return .object(o)
    }
}
