import Bus

/// Where a supervisor keeps its files on the bus, and the control files it reads and writes.
///
/// - `sup/<host>/lock`: held (flock) while a supervisor runs for this bus on `host`;
/// - `sup/<host>/supervisor.pid`, `sup/<host>/supervisor.log` (when detached);
/// - `sup/<host>/state.json`: the supervisor's view of its instances, rewritten as it changes;
/// - `sup/<host>/logs/<role>.<instance>.log`: each instance's stdout and stderr;
/// - `ctl/failed.<role>.<host>`: the role hit its restart intensity on `host`;
/// - `ctl/restart.<role>`: a request to re-spawn the role's instances on every host.
public struct SupervisorFiles: Sendable {
    /// The bus layout.
    public let layout: BusLayout
    /// The host these files belong to.
    public let host: String

    public init(layout: BusLayout, host: String = Host.name) {
        self.layout = layout
        self.host = host
    }

    /// `sup/`.
    public var root: String { layout.root + "/sup" }
    /// `sup/<host>/`.
    public var directory: String { root + "/" + host }
    public var lock: String { directory + "/lock" }
    public var pid: String { directory + "/supervisor.pid" }
    public var log: String { directory + "/supervisor.log" }
    public var state: String { directory + "/state.json" }
    public var logs: String { directory + "/logs" }
    /// The log of one instance.
    public func log(role: String, instance: Int) -> String { logs + "/\(role).\(instance).log" }
    /// The failed marker of `role` on this host.
    public func failed(_ role: String) -> String { layout.ctl + "/failed.\(role).\(host)" }
    /// The restart request of `role` (for every host).
    public func restartRequest(_ role: String) -> String { layout.ctl + "/restart.\(role)" }
    /// The stop file that stops everything.
    public var stopAll: String { layout.ctl + "/stop" }
}
