/// The contents of a heartbeat file, `hb/<role>/<worker>.json`.
///
/// Observers never look at the file's mtime or compare `updated` with their own clock: they note,
/// on their own monotonic clock, when `seq` last changed.
public struct Heartbeat: Sendable, Equatable {
    /// What a worker is doing.
    public enum State: String, Sendable, CaseIterable {
        case idle, working, backoff, stopping, stopped
    }

    /// A claim the worker holds.
    public struct HeldClaim: Sendable, Equatable {
        public var id: String
        public var epoch: Int
        public init(id: String, epoch: Int) {
            self.id = id
            self.epoch = epoch
        }
    }

    public var worker: WorkerID
    /// The kernel boot id of the worker's host.
    public var bootID: String
    /// The process start time, in clock ticks after boot (`/proc/<pid>/stat` field 22): with the
    /// boot id, it tells a same-host observer whether `pid` is still this incarnation.
    public var processStart: Int64
    /// Bumped on every write.
    public var seq: Int
    public var state: State
    public var claims: [HeldClaim]
    /// Bumped by the worker whenever its work moves forward.
    public var progress: Int
    public var started: Timestamp
    /// The writer's wall clock at the write (informational only).
    public var updated: Timestamp
    /// Free-form details a role adds (model, current step).
    public var info: [String: JSONValue]

    public init(
        worker: WorkerID, bootID: String = Host.bootID, processStart: Int64, seq: Int = 0, state: State = .idle,
        claims: [HeldClaim] = [], progress: Int = 0, started: Timestamp = .now(), updated: Timestamp = .now(),
        info: [String: JSONValue] = [:]
    ) {
        self.worker = worker
        self.bootID = bootID
        self.processStart = processStart
        self.seq = seq
        self.state = state
        self.claims = claims
        self.progress = progress
        self.started = started
        self.updated = updated
        self.info = info
    }

    /// The `info` key of a backoff's end, RFC 3339 (see ``HeartbeatWriter/backoff(until:reason:)``).
    public static let backoffUntilKey = "backoff_until"
    /// The `info` key of a backoff's reason.
    public static let backoffReasonKey = "backoff_reason"

    /// The end of the backoff this heartbeat announces (`info.backoff_until`), if any.
    public var backoffUntil: Timestamp? {
        info[Self.backoffUntilKey]?.stringValue.flatMap(Timestamp.init(rfc3339:))
    }

    /// Why the worker backs off (`info.backoff_reason`), if it does.
    public var backoffReason: String? { info[Self.backoffReasonKey]?.stringValue }

    /// The state for people: `backoff until <T>` while a backoff with an end is announced, else
    /// the state's name.
    public var stateText: String {
        if state == .backoff, let until = backoffUntil { return "backoff until \(until)" }
        return state.rawValue
    }

    public var json: JSONValue {
        .object([
            "worker": .string(worker.description), "role": .string(worker.role), "host": .string(worker.host),
            "pid": .number(Double(worker.pid)), "incarnation": .string(worker.incarnation),
            "boot_id": .string(bootID), "process_start": .number(Double(processStart)), "seq": .number(Double(seq)),
            "state": .string(state.rawValue),
            "claims": .array(claims.map { .object(["id": .string($0.id), "epoch": .number(Double($0.epoch))]) }),
            "progress": .number(Double(progress)), "started": .string(started.description),
            "updated": .string(updated.description), "info": .object(info),
        ])
    }

    /// Reads a heartbeat file's JSON.
    /// - Throws: ``BusError`` `invalidEnvelope` when a field is missing or ill-typed.
    public init(json value: JSONValue) throws(BusError) {
        guard let o = value.objectValue, let w = o["worker"]?.stringValue else {
            throw BusError(.invalidEnvelope, "heartbeat without a worker")
        }
        let worker = try WorkerID(parsing: w)
        guard let seq = o["seq"]?.intValue, let stateText = o["state"]?.stringValue,
            let state = State(rawValue: stateText)
        else { throw BusError(.invalidEnvelope, "heartbeat \(w) lacks seq or state") }
        let claims = (o["claims"]?.arrayValue ?? []).compactMap { c -> HeldClaim? in
            guard let id = c["id"]?.stringValue, let epoch = c["epoch"]?.intValue else { return nil }
            return HeldClaim(id: id, epoch: epoch)
        }
        self.init(
            worker: worker, bootID: o["boot_id"]?.stringValue ?? "",
            processStart: Int64(o["process_start"]?.intValue ?? 0), seq: seq, state: state, claims: claims,
            progress: o["progress"]?.intValue ?? 0,
            started: o["started"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) ?? Timestamp(milliseconds: 0),
            updated: o["updated"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) ?? Timestamp(milliseconds: 0),
            info: o["info"]?.objectValue ?? [:])
    }

    /// Reads the heartbeat of `worker` (open + read, never stat): `nil` when there is none.
    public static func read(_ worker: WorkerID, layout: BusLayout) -> Heartbeat? {
        read(path: layout.heartbeat(worker))
    }

    /// Reads a heartbeat file: `nil` when missing or unreadable.
    public static func read(path: String) -> Heartbeat? {
        guard case .bytes(let b) = FileOps.readRegular(path, limit: 1 << 20),
            let value = try? JSONValue.parse(b), let hb = try? Heartbeat(json: value)
        else { return nil }
        return hb
    }
}

/// Facts about processes on this host.
public enum ProcessInfo {
    /// The start time of `pid` in clock ticks after boot, or `nil` when there is no such process.
    public static func startTime(of pid: Int32) -> Int64? {
        guard case .bytes(let b) = FileOps.readRegular("/proc/\(pid)/stat", limit: 4096) else { return nil }
        let text = String(decoding: b, as: UTF8.self)
        // Field 2 (comm) may hold spaces and parentheses: fields after it follow the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ')' come field 3 (state) onwards: starttime is field 22, so index 19.
        guard fields.count > 19 else { return nil }
        return Int64(fields[19])
    }

    /// True when a process with this pid exists on this host.
    public static func exists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// True when `pid` is a process that has not exited (a zombie, exited but not yet reaped by its
    /// parent, has).
    public static func isRunning(_ pid: Int32) -> Bool {
        guard case .bytes(let b) = FileOps.readRegular("/proc/\(pid)/stat", limit: 4096) else { return false }
        let text = String(decoding: b, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(after: close)...].drop { $0 == " " }.first
        return state != nil && state != "Z" && state != "X"
    }
}

#if canImport(Glibc)
    import Glibc
#endif
