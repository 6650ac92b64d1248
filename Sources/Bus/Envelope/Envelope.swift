/// One message on the bus: protocol v1.
///
/// An envelope is a JSON object with exactly these fields, written in this order:
/// `v`, `id`, `run`, `task` (optional), `kind`, `from`, `to`, `causation` (optional), `attempt`,
/// `created`, `body`, and on a signing bus a last `sig` (see ``EnvelopeSigner``). See
/// docs/PROTOCOL.md for the contract.
public struct Envelope: Sendable, Equatable {
    /// The protocol version this code reads and writes.
    public static let protocolVersion = 1

    /// Unique, sortable id; the envelope's file name and idempotency key.
    public var id: String
    /// The run this envelope belongs to.
    public var run: String
    /// The task inside the run, if any.
    public var task: String?
    /// What the envelope asks or reports, such as `goal` or `built`.
    public var kind: String
    /// The worker that wrote it.
    public var from: WorkerID
    /// The role it is addressed to.
    public var to: String
    /// The id of the envelope this one answers, if any.
    public var causation: String?
    /// The application-level attempt (a task's try number); delivery counts are separate epochs.
    public var attempt: Int
    /// When it was written, on the writer's clock (informational).
    public var created: Timestamp
    /// The payload: a JSON object.
    public var body: [String: JSONValue]

    /// Creates an envelope with a fresh id and the current time.
    public init(
        id: String = EnvelopeID.make(), run: String, task: String? = nil, kind: String, from: WorkerID,
        to: String, causation: String? = nil, attempt: Int = 1, created: Timestamp = .now(),
        body: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.run = run
        self.task = task
        self.kind = kind
        self.from = from
        self.to = to
        self.causation = causation
        self.attempt = attempt
        self.created = created
        self.body = body
    }

    static let fields: Set<String> = [
        "v", "id", "run", "task", "kind", "from", "to", "causation", "attempt", "created", "body", "sig",
    ]

    /// Checks every field against the protocol's charsets and limits.
    /// - Throws: ``BusError`` `invalidEnvelope` naming the field.
    public func validate() throws(BusError) {
        guard Limits.isValidEnvelopeID(id) else {
            throw BusError(
                .invalidEnvelope,
                "id \"\(id.prefix(40))\" must be 13 digits of Unix ms, '-', then [A-Za-z0-9_-], at most 100 bytes")
        }
        try Limits.checkName(run, field: "run")
        if let task { try Limits.checkName(task, field: "task") }
        try Limits.checkKind(kind, field: "kind")
        try Limits.checkRole(to, field: "to")
        if let causation, !Limits.isValidEnvelopeID(causation) {
            throw BusError(.invalidEnvelope, "causation \"\(causation.prefix(40))\" is not an envelope id")
        }
        guard attempt >= 0, attempt <= 1_000_000 else {
            throw BusError(.invalidEnvelope, "attempt must be an integer from 0 to 1000000")
        }
    }

    /// The envelope as a JSON value.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "v": .number(Double(Self.protocolVersion)), "id": .string(id), "run": .string(run),
            "kind": .string(kind), "from": from.json, "to": .string(to), "attempt": .number(Double(attempt)),
            "created": .string(created.description), "body": .object(body),
        ]
        if let task { o["task"] = .string(task) }
        o["causation"] = causation.map(JSONValue.string) ?? .null
        return .object(o)
    }

    /// The envelope's file bytes: compact JSON, fields in protocol order, then a newline.
    /// - Throws: ``BusError`` `invalidEnvelope` when a field or the size breaks the limits.
    public func encoded(limits: Limits = Limits()) throws(BusError) -> [UInt8] {
        try validate()
        var out = "{\"v\":\(Self.protocolVersion),\"id\":"
        JSONWriter.writeString(id, into: &out)
        out += ",\"run\":"
        JSONWriter.writeString(run, into: &out)
        if let task {
            out += ",\"task\":"
            JSONWriter.writeString(task, into: &out)
        }
        out += ",\"kind\":"
        JSONWriter.writeString(kind, into: &out)
        out += ",\"from\":{\"role\":"
        JSONWriter.writeString(from.role, into: &out)
        out += ",\"host\":"
        JSONWriter.writeString(from.host, into: &out)
        out += ",\"pid\":\(from.pid),\"incarnation\":"
        JSONWriter.writeString(from.incarnation, into: &out)
        out += "},\"to\":"
        JSONWriter.writeString(to, into: &out)
        out += ",\"causation\":"
        if let causation { JSONWriter.writeString(causation, into: &out) } else { out += "null" }
        out += ",\"attempt\":\(attempt),\"created\":\"\(created)\",\"body\":"
        JSONWriter.write(.object(body), into: &out, pretty: false, indent: 0)
        out += "}\n"
        let bytes = Array(out.utf8)
        guard bytes.count <= limits.maxEnvelopeBytes else {
            throw BusError(
                .invalidEnvelope, "envelope is \(bytes.count) bytes, over the \(limits.maxEnvelopeBytes)-byte limit")
        }
        // The top-level object is level 1, so the body object is level 2 (as the parser counts).
        let depth = 1 + Self.depth(of: .object(body))
        guard depth <= limits.maxDepth else {
            throw BusError(.invalidEnvelope, "envelope nests \(depth) levels, over the limit of \(limits.maxDepth)")
        }
        return bytes
    }

    private static func depth(of value: JSONValue) -> Int {
        switch value {
        case .array(let a): return 1 + (a.map(depth).max() ?? 0)
        case .object(let o): return 1 + (o.values.map(depth).max() ?? 0)
        default: return 0
        }
    }

    /// Reads an envelope from file bytes, enforcing every limit.
    /// - Throws: ``BusError`` `invalidEnvelope` with the first problem found.
    public init(decoding bytes: [UInt8], limits: Limits = Limits()) throws(BusError) {
        guard !bytes.isEmpty else { throw BusError(.invalidEnvelope, "empty file") }
        guard bytes.count <= limits.maxEnvelopeBytes else {
            throw BusError(
                .invalidEnvelope, "envelope is \(bytes.count) bytes, over the \(limits.maxEnvelopeBytes)-byte limit")
        }
        let value = try JSONValue.parse(bytes, maxDepth: limits.maxDepth)
        guard let o = value.objectValue else { throw BusError(.invalidEnvelope, "an envelope must be a JSON object") }
        guard let v = o["v"] else { throw BusError(.invalidEnvelope, "missing field \"v\" (protocol version)") }
        guard v.intValue == Self.protocolVersion else {
            throw BusError(
                .invalidEnvelope, "protocol version \(v.serialized()) is not supported (this reader speaks v1)")
        }
        for key in o.keys where !Self.fields.contains(key) {
            throw BusError(.invalidEnvelope, "unknown field \"\(key.prefix(40))\"")
        }
        func string(_ key: String) throws(BusError) -> String {
            guard let value = o[key] else { throw BusError(.invalidEnvelope, "missing field \"\(key)\"") }
            guard let s = value.stringValue else {
                throw BusError(.invalidEnvelope, "field \"\(key)\" must be a string")
            }
            return s
        }
        func optionalString(_ key: String) throws(BusError) -> String? {
            guard let value = o[key], value != .null else { return nil }
            guard let s = value.stringValue else {
                throw BusError(.invalidEnvelope, "field \"\(key)\" must be a string or null")
            }
            return s
        }
        if let sig = o["sig"], sig.stringValue == nil {
            throw BusError(.invalidEnvelope, "field \"sig\" must be a string")
        }
        let id = try string("id")
        let run = try string("run")
        let task = try optionalString("task")
        let kind = try string("kind")
        guard let fromValue = o["from"] else { throw BusError(.invalidEnvelope, "missing field \"from\"") }
        let from = try WorkerID(json: fromValue, field: "from")
        let to = try string("to")
        let causation = try optionalString("causation")
        guard let attemptValue = o["attempt"] else { throw BusError(.invalidEnvelope, "missing field \"attempt\"") }
        guard let attempt = attemptValue.intValue else {
            throw BusError(.invalidEnvelope, "field \"attempt\" must be an integer")
        }
        let createdText = try string("created")
        guard let created = Timestamp(rfc3339: createdText) else {
            throw BusError(.invalidEnvelope, "field \"created\" must be RFC 3339 UTC, like 2026-11-22T03:04:05.678Z")
        }
        guard let bodyValue = o["body"] else { throw BusError(.invalidEnvelope, "missing field \"body\"") }
        guard let body = bodyValue.objectValue else {
            throw BusError(.invalidEnvelope, "field \"body\" must be an object")
        }
        self.init(
            id: id, run: run, task: task, kind: kind, from: from, to: to, causation: causation, attempt: attempt,
            created: created, body: body)
        try validate()
    }

    /// A one-line summary of the body for timelines: `body.summary`, else `body.title`, else compact JSON.
    public var summary: String {
        let text = body["summary"]?.stringValue ?? body["title"]?.stringValue ?? JSONValue.object(body).serialized()
        let flat = text.replacingNewlines()
        return flat.count > 72 ? String(flat.prefix(71)) + "…" : flat
    }
}

extension String {
    func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
    }
}
