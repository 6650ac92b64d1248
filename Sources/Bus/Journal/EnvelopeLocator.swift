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
            var hits: [(String, String)] = []
            for name in (try? FileOps.list(layout.new(role))) ?? [] where QueueNames.parsePending(name)?.id == id {
                hits.append(("waiting", layout.new(role) + "/" + name))
            }
            for name in (try? FileOps.list(layout.cur(role))) ?? [] where QueueNames.parseClaim(name)?.id == id {
                hits.append(("claimed", layout.cur(role) + "/" + name))
            }
            for name in (try? FileOps.list(layout.retry(role))) ?? [] where QueueNames.parseRetry(name)?.id == id {
                hits.append(("retry", layout.retry(role) + "/" + name))
            }
            let doneDir = layout.done(role, day: QueueNames.day(of: id))
            for epoch in 1...(bus.settings.maxAttempts + 1) {
                let path = doneDir + "/" + QueueNames.settled(id: id, epoch: epoch)
                if FileOps.exists(path) { hits.append(("done", path)) }
            }
            for name in (try? FileOps.list(layout.dead(role))) ?? []
            where name.hasPrefix(id + ".e") && !name.hasSuffix(".reason.json") {
                hits.append(("dead", layout.dead(role) + "/" + name))
            }
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
