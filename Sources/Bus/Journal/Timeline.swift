/// The story of envelopes, folded from journals and checked against the queue folders.
public struct Timeline: Sendable {
    /// Where an envelope is now.
    public enum State: Sendable, Equatable {
        case waiting(epoch: Int)
        case claimed(by: String, epoch: Int)
        case retry(epoch: Int, reason: String?)
        case done(epoch: Int)
        case dead(reason: String?)
        case unknown

        /// Short word for scripts: waiting, claimed, retry, done, dead, unknown.
        public var word: String {
            switch self {
            case .waiting: return "waiting"
            case .claimed: return "claimed"
            case .retry: return "retry"
            case .done: return "done"
            case .dead: return "dead"
            case .unknown: return "unknown"
            }
        }

        public var isTerminal: Bool {
            switch self {
            case .done, .dead: return true
            default: return false
            }
        }
    }

    /// One envelope in one queue.
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var run: String
        public var role: String
        public var kind: String?
        public var from: String?
        public var task: String?
        public var created: Timestamp?
        public var summary: String?
        public var causation: String?
        public var state: State
        public var history: [JournalEvent]

        /// When it was written (or first journalled).
        public var time: Timestamp { created ?? history.first?.time ?? Timestamp(milliseconds: 0) }

        /// True for the second copy of a reused id (dead-lettered as a duplicate).
        public var isDuplicate: Bool { history.contains { $0.duplicate } }

        /// A key that tells entries apart in a timeline: id, queue, and first copy or duplicate.
        public var key: String { Timeline.key(id: id, role: role, duplicate: isDuplicate) }

        /// The sender's role (from the worker id).
        public var fromRole: String? { from.flatMap { try? WorkerID(parsing: $0) }?.role }

        public var json: JSONValue {
            var o: [String: JSONValue] = [
                "id": .string(id), "run": .string(run), "to": .string(role), "state": .string(state.word),
                "time": .string(time.description),
            ]
            if let kind { o["kind"] = .string(kind) }
            if let from { o["from"] = .string(from) }
            if let task { o["task"] = .string(task) }
            if let summary { o["summary"] = .string(summary) }
            if let causation { o["causation"] = .string(causation) }
            switch state {
            case .waiting(let e): o["epoch"] = .number(Double(e))
            case .claimed(let by, let e):
                o["epoch"] = .number(Double(e))
                o["holder"] = .string(by)
            case .retry(let e, let r):
                o["epoch"] = .number(Double(e))
                if let r { o["reason"] = .string(r) }
            case .done(let e): o["epoch"] = .number(Double(e))
            case .dead(let r): if let r { o["reason"] = .string(r) }
            case .unknown: break
            }
            return .object(o)
        }
    }

    let bus: Bus

    /// A timeline over `bus`.
    public init(bus: Bus) {
        self.bus = bus
    }

    private static func rank(_ kind: JournalEvent.Kind) -> Int {
        switch kind {
        case .publish: return 0
        case .claim: return 1
        case .fenced: return 2
        case .nack, .expire, .release: return 3
        case .requeue: return 4
        case .ack, .dead: return 5
        }
    }

    /// The entry an event belongs to: its id and queue, the second copy of a reused id apart.
    public static func key(id: String, role: String, duplicate: Bool) -> String {
        id + "\u{0}" + role + (duplicate ? "\u{0}duplicate" : "")
    }

    /// The entry key of an event.
    public static func key(for event: JournalEvent) -> String {
        key(id: event.id, role: event.role, duplicate: event.duplicate)
    }

    /// One envelope's events in the order they happened: by epoch, then by the protocol's order of
    /// steps within an epoch, then by time (wall clocks of different hosts are only a tie-break).
    public static func ordered(_ events: [JournalEvent]) -> [JournalEvent] {
        events.sorted {
            ($0.epoch ?? 0, rank($0.event), $0.time) < ($1.epoch ?? 0, rank($1.event), $1.time)
        }
    }

    /// Folds events into entries (one per id and queue), ordered by creation time.
    public func entries(run: String, events: [JournalEvent], verify: Bool = true) -> [Entry] {
        var groups: [String: [JournalEvent]] = [:]
        var order: [String] = []
        for event in events {
            // A second copy of a reused id is a story of its own, not the end of the first one's.
            let key = Self.key(for: event)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(event)
        }
        var out: [Entry] = []
        let cache = FolderCache()
        for key in order {
            let history = Self.ordered(groups[key]!)
            let headers = history.first { $0.kind != nil }
            var entry = Entry(
                id: history[0].id, run: run, role: history[0].role, kind: headers?.kind, from: headers?.from,
                task: headers?.task, created: headers?.created, summary: headers?.summary,
                causation: headers?.causation, state: .unknown, history: history)
            entry.state = Self.fold(history)
            if verify && !entry.state.isTerminal,
                let found = locate(entry.id, role: entry.role, hint: entry.state, cache: cache),
                !Self.sameFolder(found, entry.state)
            {
                // The folders are the truth; the journal's details are kept when they agree.
                entry.state = found
            }
            out.append(entry)
        }
        return out.sorted { ($0.time, $0.id, $0.role) < ($1.time, $1.id, $1.role) }
    }

    /// True when two states name the same folder and epoch (details such as reasons aside).
    static func sameFolder(_ a: State, _ b: State) -> Bool {
        switch (a, b) {
        case (.waiting(let x), .waiting(let y)): return x == y
        case (.claimed(let w1, let x), .claimed(let w2, let y)): return x == y && w1 == w2
        case (.retry(let x, _), .retry(let y, _)): return x == y
        case (.done(let x), .done(let y)): return x == y
        case (.dead, .dead): return true
        default: return false
        }
    }

    static func fold(_ history: [JournalEvent]) -> State {
        guard let last = history.last else { return .unknown }
        let epoch = last.epoch ?? 0
        switch last.event {
        case .publish: return .waiting(epoch: 0)
        case .claim: return .claimed(by: last.worker, epoch: epoch)
        case .fenced:
            // A refused late step says nothing about the envelope: look at the step before it.
            return fold(Array(history.dropLast()))
        case .release where last.notBefore != nil:
            // A deferral: handed back into retry/, due at its not-before time.
            return .retry(epoch: epoch, reason: last.reason)
        case .expire, .release, .requeue: return .waiting(epoch: epoch)
        case .nack: return .retry(epoch: epoch, reason: last.reason)
        case .ack: return .done(epoch: epoch)
        case .dead: return .dead(reason: last.reason)
        }
    }

    /// Folder listings made once per query, shared by every lookup in it.
    final class FolderCache {
        private var listings: [String: [String]] = [:]

        func names(_ path: String) -> [String] {
            if let names = listings[path] { return names }
            let names = (try? FileOps.list(path)) ?? []
            listings[path] = names
            return names
        }
    }

    /// Finds an envelope in its queue's folders by name, without reading other envelopes.
    ///
    /// - Parameters:
    ///   - hint: the state the journal says; a claim is checked first by its exact name.
    ///   - cache: listings of `cur/`, `retry/` and `dead/` are made once per cache.
    public func locate(_ id: String, role: String, hint: State? = nil) -> State? {
        locate(id, role: role, hint: hint, cache: FolderCache())
    }

    func locate(_ id: String, role: String, hint: State?, cache: FolderCache) -> State? {
        let layout = bus.layout
        if case .claimed(let by, let epoch) = hint, let holder = try? WorkerID(parsing: by),
            FileOps.exists(layout.cur(role) + "/" + QueueNames.claim(id: id, epoch: epoch, worker: holder))
        {
            return hint
        }
        guard let first = QueueCopies.find(id, role: role, bus: bus, firstOnly: true, list: cache.names).first else {
            return nil
        }
        if case .dead = first.state {
            let file = FileOps.baseName(first.path)
            return .dead(reason: DeadLetters.reason(layout: layout, role: role, file: file)?["reason"]?.stringValue)
        }
        return first.state
    }
}
