/// Stop requests through the bus: files in `ctl/` that workers look for on every janitor pass, so
/// that workers on every host see them (a signal reaches only this host).
///
/// - `ctl/stop`: every worker on the bus stops.
/// - `ctl/stop.<role>`: the workers of that role stop.
/// - `ctl/stop.<worker-id>`: that one worker stops.
///
/// A stopping worker finishes the envelope in hand, writes a `stopped` heartbeat and exits. The
/// files stay until someone removes them; a worker started while one names it stops at once.
public struct StopFiles: Sendable {
    let layout: BusLayout

    /// Stop files of the bus at `layout`.
    public init(layout: BusLayout) {
        self.layout = layout
    }

    /// The names of the stop files that concern `worker`.
    public static func names(for worker: WorkerID) -> [String] {
        ["stop", "stop." + worker.role, "stop." + worker.description]
    }

    /// The first stop file present that concerns `worker`, if any. The folder is listed (not
    /// stat'ed by name), so NFS's cached negative lookups cannot hide a new file.
    public func request(for worker: WorkerID) -> String? {
        let present = Set((try? FileOps.list(layout.ctl)) ?? [])
        return Self.names(for: worker).first { present.contains($0) }
    }

    /// Creates a stop file (`target` = `nil` for all, a role, or a worker id).
    /// - Throws: ``BusError`` when it cannot be written.
    public func requestStop(_ target: String? = nil) throws(BusError) {
        let name = target.map { "stop." + $0 } ?? "stop"
        let body = JSONValue.object(["requested": .string(Timestamp.now().description)])
        try FileOps.writeAtomically(
            Array((body.serialized() + "\n").utf8), to: layout.ctl + "/" + name, stagingDirectory: layout.tmp,
            mode: Bus.fileMode, durable: false)
    }
}
