import Bus

/// Every worker seen on a bus, local or remote, as `planbus ps` lists it.
///
/// Built from the heartbeat files (`hb/<role>/*.json`), every host's supervisor state
/// (`sup/<host>/state.json`) for instance numbers, restarts and hung marks, and the failed
/// markers (`ctl/failed.<role>.<host>`).
public struct WorkerStatus: Sendable, Equatable {
    public var role: String
    public var instance: Int?
    public var host: String
    public var pid: Int32?
    public var worker: String?
    /// The heartbeat's state, or the supervisor's phase when there is no heartbeat.
    public var state: String
    public var agent: String?
    public var model: String?
    /// The envelope held, if any.
    public var envelope: String?
    /// Milliseconds since the heartbeat's `updated` time, by this machine's clock.
    public var heartbeatAgeMs: Int?
    public var restarts: Int?
    /// True when the worker's process runs on this host and is the one that wrote the heartbeat
    /// (same boot, same non-zero process start time): only such a process may be signalled.
    public var verifiedLocal: Bool = false
    /// `dead` (this host, process gone), `stale` (another host, heartbeat older than the lease),
    /// `hung` (its supervisor is replacing it), `failed` (its role hit the restart intensity), or
    /// `nil` when healthy.
    public var mark: String?
    /// While the worker backs off (a rate or usage limit): when it will claim again, RFC 3339.
    public var backoffUntil: String?
    /// Why it backs off.
    public var backoffReason: String?

    /// The state for people: `backoff until <T>` while the worker backs off until a known time.
    public var stateText: String {
        if state == Heartbeat.State.backoff.rawValue, let backoffUntil { return "backoff until \(backoffUntil)" }
        return state
    }

    /// The JSON form used by `planbus ps --json`.
    public var json: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func num(_ i: Int?) -> JSONValue { i.map { .number(Double($0)) } ?? .null }
        return .object([
            "role": .string(role), "instance": num(instance), "host": .string(host), "pid": num(pid.map(Int.init)),
            "worker": opt(worker), "state": .string(state), "agent": opt(agent), "model": opt(model),
            "envelope": opt(envelope), "heartbeat_age_ms": num(heartbeatAgeMs), "restarts": num(restarts),
            "mark": opt(mark), "local_process": .bool(verifiedLocal), "backoff_until": opt(backoffUntil),
            "backoff_reason": opt(backoffReason),
        ])
    }

    /// Reads every worker on the bus.
    public static func collect(bus: Bus, now: Timestamp = .now()) -> [WorkerStatus] {
        let layout = bus.layout
        let supervisors = SupervisorSnapshot.all(layout: layout).filter { $0.isCurrent(layout: layout, now: now) }
        var byWorker: [String: (SupervisorSnapshot, SupervisorSnapshot.Instance)] = [:]
        var byPid: [String: (SupervisorSnapshot, SupervisorSnapshot.Instance)] = [:]
        for snap in supervisors {
            for i in snap.instances {
                if let w = i.worker { byWorker[w] = (snap, i) }
                if let pid = i.pid { byPid["\(snap.host)/\(pid)"] = (snap, i) }
            }
        }
        var rows: [WorkerStatus] = []
        var listed = Set<String>()
        let roles = ((try? FileOps.list(layout.heartbeats)) ?? []).sorted()
        for role in roles {
            for name in ((try? FileOps.list(layout.heartbeats(role))) ?? []).sorted() where name.hasSuffix(".json") {
                guard let hb = Heartbeat.read(path: layout.heartbeats(role) + "/" + name) else { continue }
                let w = hb.worker
                let sup = byWorker[w.description] ?? byPid["\(w.host)/\(w.pid)"]
                var row = WorkerStatus(
                    role: w.role, instance: hb.info["instance"]?.intValue ?? sup?.1.instance, host: w.host, pid: w.pid,
                    worker: w.description, state: hb.state.rawValue, agent: hb.info["agent"]?.stringValue,
                    model: hb.info["model"]?.stringValue, envelope: hb.claims.last?.id,
                    heartbeatAgeMs: Int(now.milliseconds - hb.updated.milliseconds), restarts: sup?.1.restarts,
                    mark: nil)
                row.backoffUntil = hb.backoffUntil?.description
                row.backoffReason = hb.backoffReason
                row.mark = mark(
                    for: hb, supervised: sup?.1, leaseMs: bus.settings.leaseMs, age: row.heartbeatAgeMs ?? 0)
                if let sup { listed.insert("\(sup.0.host)/\(sup.1.role)/\(sup.1.instance)") }
                rows.append(row)
            }
        }
        // Instances with no heartbeat yet (starting, backing off, failed).
        for snap in supervisors {
            for i in snap.instances where !listed.contains("\(snap.host)/\(i.role)/\(i.instance)") {
                rows.append(
                    WorkerStatus(
                        role: i.role, instance: i.instance, host: snap.host, pid: i.pid, worker: i.worker,
                        state: i.phase,
                        agent: nil, model: nil, envelope: nil, heartbeatAgeMs: nil, restarts: i.restarts,
                        mark: i.phase == "failed" ? "failed" : (i.phase == "hung" ? "hung" : nil)))
            }
        }
        // Failed roles on hosts whose supervisor has stopped keep their marker.
        let failed = ((try? FileOps.list(layout.ctl)) ?? []).filter { $0.hasPrefix("failed.") }
        for name in failed {
            let parts = name.split(separator: ".")
            guard parts.count == 3 else { continue }
            let role = String(parts[1])
            let host = String(parts[2])
            if rows.contains(where: { $0.role == role && $0.host == host && $0.mark == "failed" }) { continue }
            for index in rows.indices where rows[index].role == role && rows[index].host == host {
                rows[index].mark = "failed"
            }
            if !rows.contains(where: { $0.role == role && $0.host == host }) {
                rows.append(
                    WorkerStatus(
                        role: role, instance: nil, host: host, pid: nil, worker: nil, state: "failed", agent: nil,
                        model: nil, envelope: nil, heartbeatAgeMs: nil, restarts: nil, mark: "failed"))
            }
        }
        return rows.sorted {
            ($0.role, $0.host, $0.instance ?? -1, $0.pid ?? 0) < ($1.role, $1.host, $1.instance ?? -1, $1.pid ?? 0)
        }
    }

    private static func mark(
        for hb: Heartbeat, supervised: SupervisorSnapshot.Instance?, leaseMs: Int, age: Int
    ) -> String? {
        if supervised?.phase == "hung" { return "hung" }
        if supervised?.phase == "failed" { return "failed" }
        if hb.state == .stopped { return nil }
        let w = hb.worker
        if w.host == Host.name && (hb.bootID == Host.bootID || hb.bootID.isEmpty) {
            guard let start = ProcessInfo.startTime(of: w.pid), start == hb.processStart || hb.processStart == 0 else {
                return "dead"
            }
            return nil
        }
        return age > leaseMs ? "stale" : nil
    }
}
