extension Timeline.Entry {
    /// A worker id shortened for people: `role@host:pid`.
    static func short(_ worker: String) -> String {
        guard let w = try? WorkerID(parsing: worker) else { return worker }
        return "\(w.role)@\(w.host):\(w.pid)"
    }

    /// The state in words, for people.
    public var stateText: String {
        switch state {
        case .waiting(let e): return e == 0 ? "waiting" : "waiting (e\(e) released)"
        case .claimed(let by, let e): return "claimed by \(Self.short(by)) e\(e)"
        case .retry(let e, let r): return "retry after e\(e)" + (r.map { ": \($0)" } ?? "")
        case .done(let e): return "done e\(e)"
        case .dead(let r): return "dead: " + (r ?? "no reason recorded")
        case .unknown: return "unknown"
        }
    }

    /// One line of `planbus log`: time, from → to, kind, state, summary.
    public var line: String {
        let fromText = from.map(Self.short) ?? "?"
        var s = "\(time)  \(fromText) → \(role)  \(kind ?? "?")"
        if let task { s += " [\(task)]" }
        s += "  \(stateText)"
        if let summary, !summary.isEmpty, summary != "{}" { s += "  \(summary)" }
        return s.replacingNewlines()
    }
}
