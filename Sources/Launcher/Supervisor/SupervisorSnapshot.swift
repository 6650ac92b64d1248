import Bus

/// What a supervisor writes to `sup/<host>/state.json`: its own state and each instance's, for
/// `planbus ps`, `planbus kill` and `planbus restart`.
public struct SupervisorSnapshot: Sendable, Equatable {
    /// One role instance as the supervisor sees it.
    public struct Instance: Sendable, Equatable {
        public var role: String
        public var instance: Int
        /// The current process, if one runs.
        public var pid: Int32?
        /// The worker id from the process's heartbeat, once seen.
        public var worker: String?
        /// `starting`, `running`, `hung`, `stopping`, `backoff`, `failed` or `stopped`.
        public var phase: String
        /// Re-spawns of this instance since the supervisor started.
        public var restarts: Int
        /// How the last process ended (`exit 0`, `signal 9`), if one has.
        public var lastExit: String?

        public init(
            role: String, instance: Int, pid: Int32?, worker: String?, phase: String, restarts: Int,
            lastExit: String?
        ) {
            self.role = role
            self.instance = instance
            self.pid = pid
            self.worker = worker
            self.phase = phase
            self.restarts = restarts
            self.lastExit = lastExit
        }
    }

    public var pid: Int32
    public var host: String
    /// `running`, `stopping` or `stopped`.
    public var state: String
    public var started: Timestamp
    public var updated: Timestamp
    public var instances: [Instance]
    /// Roles that hit their restart intensity.
    public var failedRoles: [String]
    /// Restart request ids handled (`ctl/restart.<role>`).
    public var handledRestarts: [String]

    public init(
        pid: Int32, host: String, state: String, started: Timestamp, updated: Timestamp, instances: [Instance],
        failedRoles: [String], handledRestarts: [String]
    ) {
        self.pid = pid
        self.host = host
        self.state = state
        self.started = started
        self.updated = updated
        self.instances = instances
        self.failedRoles = failedRoles
        self.handledRestarts = handledRestarts
    }

    public var json: JSONValue {
        .object([
            "pid": .number(Double(pid)), "host": .string(host), "state": .string(state),
            "started": .string(started.description), "updated": .string(updated.description),
            "failed_roles": .array(failedRoles.map(JSONValue.string)),
            "handled_restarts": .array(handledRestarts.map(JSONValue.string)),
            "instances": .array(
                instances.map { i in
                    .object([
                        "role": .string(i.role), "instance": .number(Double(i.instance)),
                        "pid": i.pid.map { .number(Double($0)) } ?? .null,
                        "worker": i.worker.map(JSONValue.string) ?? .null, "phase": .string(i.phase),
                        "restarts": .number(Double(i.restarts)),
                        "last_exit": i.lastExit.map(JSONValue.string) ?? .null,
                    ])
                }),
        ])
    }

    /// Reads a `state.json`; `nil` when missing or malformed.
    public static func read(path: String) -> SupervisorSnapshot? {
        guard case .bytes(let b) = FileOps.readRegular(path, limit: 4 << 20), let v = try? JSONValue.parse(b),
            let o = v.objectValue, let pid = o["pid"]?.intValue, let host = o["host"]?.stringValue,
            let state = o["state"]?.stringValue
        else { return nil }
        let instances = (o["instances"]?.arrayValue ?? []).compactMap { i -> Instance? in
            guard let role = i["role"]?.stringValue, let n = i["instance"]?.intValue else { return nil }
            return Instance(
                role: role, instance: n, pid: i["pid"]?.intValue.map { Int32($0) }, worker: i["worker"]?.stringValue,
                phase: i["phase"]?.stringValue ?? "unknown", restarts: i["restarts"]?.intValue ?? 0,
                lastExit: i["last_exit"]?.stringValue)
        }
        func time(_ key: String) -> Timestamp {
            o[key]?.stringValue.flatMap(Timestamp.init(rfc3339:)) ?? Timestamp(milliseconds: 0)
        }
        return SupervisorSnapshot(
            pid: Int32(pid), host: host, state: state, started: time("started"), updated: time("updated"),
            instances: instances, failedRoles: (o["failed_roles"]?.arrayValue ?? []).compactMap(\.stringValue),
            handledRestarts: (o["handled_restarts"]?.arrayValue ?? []).compactMap(\.stringValue))
    }

    /// True when the supervisor that wrote this still runs: on this host, it holds the lock; on
    /// another, its file says it runs and was rewritten within the last 10 s (it is rewritten at
    /// least every 2 s).
    public func isCurrent(layout: BusLayout, now: Timestamp = .now()) -> Bool {
        if host == Host.name { return SupervisorLock.isHeld(SupervisorFiles(layout: layout, host: host)) }
        return state != "stopped" && now.milliseconds - updated.milliseconds < 10_000
    }

    /// Every supervisor snapshot on the bus, one per host.
    public static func all(layout: BusLayout) -> [SupervisorSnapshot] {
        let root = SupervisorFiles(layout: layout).root
        return ((try? FileOps.list(root)) ?? []).sorted().compactMap { host in
            read(path: SupervisorFiles(layout: layout, host: host).state)
        }
    }
}
