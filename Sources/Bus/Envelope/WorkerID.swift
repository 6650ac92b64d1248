/// Who a worker is: its role, host, process id, and the incarnation drawn at start.
///
/// A restarted process has a new incarnation, so nothing addressed to, claimed by or sent from an
/// earlier incarnation can be mistaken for its own. The text form, used in file names and in
/// heartbeats, is `role.host.pid.incarnation`.
public struct WorkerID: Sendable, Hashable, CustomStringConvertible {
    /// The role this worker serves, such as `builder`.
    public var role: String
    /// The host name, reduced to `[A-Za-z0-9-]`.
    public var host: String
    /// The process id on that host.
    public var pid: Int32
    /// 16 hex digits drawn at process start.
    public var incarnation: String

    /// Creates a worker id from its parts, checking each against the protocol's charset.
    /// - Throws: ``BusError`` `invalidEnvelope` naming the bad part.
    public init(role: String, host: String, pid: Int32, incarnation: String) throws(BusError) {
        try Limits.checkRole(role, field: "from.role")
        try Limits.checkHost(host, field: "from.host")
        guard pid > 0 else { throw BusError(.invalidEnvelope, "from.pid must be a positive integer") }
        guard incarnation.utf8.count >= 4, incarnation.utf8.count <= 32,
            incarnation.utf8.allSatisfy({ Limits.isHexDigit($0) })
        else { throw BusError(.invalidEnvelope, "from.incarnation must be 4 to 32 hex digits") }
        self.role = role
        self.host = host
        self.pid = pid
        self.incarnation = incarnation
    }

    /// Parses the text form `role.host.pid.incarnation`.
    public init(parsing text: String) throws(BusError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, let number = QueueNames.canonicalNumber(parts[2]), let pid = Int32(exactly: number)
        else {
            throw BusError(.invalidEnvelope, "worker id \"\(text)\" is not role.host.pid.incarnation")
        }
        try self.init(role: String(parts[0]), host: String(parts[1]), pid: pid, incarnation: String(parts[3]))
    }

    /// A new identity for this process, with a fresh incarnation.
    public static func current(role: String, host: String? = nil) throws(BusError) -> WorkerID {
        try WorkerID(
            role: role, host: host.map(Host.sanitize) ?? Host.name, pid: getpid(), incarnation: FileOps.randomHex(16))
    }

    public var description: String { "\(role).\(host).\(pid).\(incarnation)" }

    /// The JSON object form used in envelopes and heartbeats.
    public var json: JSONValue {
        .object([
            "role": .string(role), "host": .string(host), "pid": .number(Double(pid)),
            "incarnation": .string(incarnation),
        ])
    }

    /// Reads the JSON object form.
    public init(json: JSONValue, field: String) throws(BusError) {
        guard let o = json.objectValue else { throw BusError(.invalidEnvelope, "\(field) must be an object") }
        for key in o.keys where !["role", "host", "pid", "incarnation"].contains(key) {
            throw BusError(.invalidEnvelope, "\(field) has an unknown field \"\(key)\"")
        }
        guard let role = o["role"]?.stringValue else {
            throw BusError(.invalidEnvelope, "\(field).role is missing or not a string")
        }
        guard let host = o["host"]?.stringValue else {
            throw BusError(.invalidEnvelope, "\(field).host is missing or not a string")
        }
        guard let pid = o["pid"]?.intValue, pid > 0, pid <= Int(Int32.max) else {
            throw BusError(.invalidEnvelope, "\(field).pid is missing or not a positive integer")
        }
        guard let inc = o["incarnation"]?.stringValue else {
            throw BusError(.invalidEnvelope, "\(field).incarnation is missing or not a string")
        }
        try Limits.checkRole(role, field: "\(field).role")
        try Limits.checkHost(host, field: "\(field).host")
        try self.init(role: role, host: host, pid: Int32(pid), incarnation: inc)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
