/// Finds an envelope's file by id in every queue, by name: no other envelope is read.
public struct EnvelopeLocator: Sendable {
    /// One copy of an id found in a queue.
    public struct Found: Sendable {
        public var role: String
        /// `waiting`, `claimed`, `retry`, `done`, `dead`.
        public var state: String
        public var path: String
        public var envelope: Envelope?
        public var deadReason: [String: JSONValue]?
    }

    let bus: Bus

    public init(bus: Bus) {
        self.bus = bus
    }

    /// Every copy of `id` (normally one; a duplicate id may have two).
    public func find(_ id: String) throws(BusError) -> [Found] {
        let layout = bus.layout
        var out: [Found] = []
        for role in try bus.roles() {
            let hits = QueueCopies.find(id, role: role, bus: bus, firstOnly: false) { (try? FileOps.list($0)) ?? [] }
                .map { ($0.state.word, $0.path) }
            for (state, path) in hits {
                var envelope: Envelope?
                if case .bytes(let b) = FileOps.readRegular(path, limit: bus.settings.maxEnvelopeBytes) {
                    envelope = try? Envelope(decoding: b, limits: bus.settings.limits)
                }
                let reason =
                    state == "dead" ? DeadLetters.reason(layout: layout, role: role, file: FileOps.baseName(path)) : nil
                out.append(Found(role: role, state: state, path: path, envelope: envelope, deadReason: reason))
            }
        }
        return out
    }
}
