/// Where everything lives in a bus directory. See docs/PROTOCOL.md, "Layout".
///
/// ```
/// VERSION  bus.json  tmp/  ctl/  work/  hb/<role>/  runs/<run>/journal/
/// q/<role>/{new,cur,retry,dead,seen}/  q/<role>/done/<YYYYMMDD>/
/// ```
public struct BusLayout: Sendable, Equatable {
    /// The bus directory.
    public var root: String

    /// A layout rooted at `root` (a trailing slash is dropped).
    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    public var versionFile: String { root + "/VERSION" }
    public var settingsFile: String { root + "/bus.json" }
    /// Staging for atomic writes; on the same filesystem as every queue.
    public var tmp: String { root + "/tmp" }
    /// Control files: stop requests (see ``StopFiles``).
    public var ctl: String { root + "/ctl" }
    /// Epoch-scoped results staged by claim holders: `work/<role>/<id>.e<N>/out/`.
    public var work: String { root + "/work" }
    public var heartbeats: String { root + "/hb" }
    public var queues: String { root + "/q" }
    public var runs: String { root + "/runs" }

    public func queue(_ role: String) -> String { queues + "/" + role }
    public func new(_ role: String) -> String { queues + "/" + role + "/new" }
    public func cur(_ role: String) -> String { queues + "/" + role + "/cur" }
    public func retry(_ role: String) -> String { queues + "/" + role + "/retry" }
    public func dead(_ role: String) -> String { queues + "/" + role + "/dead" }
    public func seen(_ role: String) -> String { queues + "/" + role + "/seen" }
    public func done(_ role: String) -> String { queues + "/" + role + "/done" }
    public func done(_ role: String, day: String) -> String { queues + "/" + role + "/done/" + day }
    public func heartbeats(_ role: String) -> String { heartbeats + "/" + role }
    public func heartbeat(_ worker: WorkerID) -> String {
        heartbeats + "/" + worker.role + "/" + worker.description + ".json"
    }
    public func run(_ run: String) -> String { runs + "/" + run }
    public func journal(_ run: String) -> String { runs + "/" + run + "/journal" }
    /// Results staged by the holder of epoch `epoch`, published only after its ack commits.
    public func workDirectory(role: String, id: String, epoch: Int) -> String {
        work + "/" + role + "/" + id + ".e" + String(epoch)
    }

    /// The subfolders every role queue has.
    public static let queueFolders = ["new", "cur", "retry", "dead", "done", "seen"]
}
