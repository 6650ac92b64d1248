/// The file names of the queue folders, in one place. See docs/PROTOCOL.md, "File names".
///
/// ```
/// new/<id>.json                 first delivery pending
/// new/<id>.e<N>.json            redelivery pending after N claims
/// cur/<id>.e<N>@<worker>.json   claimed, epoch N (the fencing token)
/// retry/<id>.e<N>.d<ms>.json    nacked after epoch N; due <ms> after an observer first sees it
/// done/<day>/<id>.e<N>.json     acked at epoch N (<day> = the UTC day in the id)
/// dead/<id>.e<N>.json           dead-lettered, with <same>.reason.json beside it
/// ```
public enum QueueNames {
    /// A pending name in `new/`.
    public static func pending(id: String, epoch: Int) -> String {
        epoch == 0 ? id + ".json" : id + ".e" + String(epoch) + ".json"
    }

    /// Parses a `new/` name: the id and the number of earlier claims.
    public static func parsePending(_ name: String) -> (id: String, epoch: Int)? {
        guard name.hasSuffix(".json") else { return nil }
        let stem = name.dropLast(5)
        if let (id, epoch) = splitEpoch(stem) { return (id, epoch) }
        let id = String(stem)
        return Limits.isValidEnvelopeID(id) ? (id, 0) : nil
    }

    /// A claim's name in `cur/`.
    public static func claim(id: String, epoch: Int, worker: WorkerID) -> String {
        id + ".e" + String(epoch) + "@" + worker.description + ".json"
    }

    /// Parses a `cur/` name.
    public static func parseClaim(_ name: String) -> (id: String, epoch: Int, worker: WorkerID)? {
        guard name.hasSuffix(".json"), let at = name.firstIndex(of: "@") else { return nil }
        guard let (id, epoch) = splitEpoch(name[..<at]) else { return nil }
        let workerText = name[name.index(after: at)..<name.index(name.endIndex, offsetBy: -5)]
        guard let worker = try? WorkerID(parsing: String(workerText)) else { return nil }
        return (id, epoch, worker)
    }

    /// A nacked envelope's name in `retry/`.
    public static func retry(id: String, epoch: Int, delayMs: Int) -> String {
        id + ".e" + String(epoch) + ".d" + String(delayMs) + ".json"
    }

    /// Parses a `retry/` name.
    public static func parseRetry(_ name: String) -> (id: String, epoch: Int, delayMs: Int)? {
        guard name.hasSuffix(".json") else { return nil }
        let stem = name.dropLast(5)
        guard let dot = stem.lastIndex(of: "."), stem[stem.index(after: dot)...].first == "d",
            let delay = canonicalNumber(stem[stem.index(dot, offsetBy: 2)...])
        else { return nil }
        guard let (id, epoch) = splitEpoch(stem[..<dot]) else { return nil }
        return (id, epoch, delay)
    }

    /// An acked envelope's name in `done/<day>/`, and a dead one's in `dead/`.
    public static func settled(id: String, epoch: Int) -> String {
        id + ".e" + String(epoch) + ".json"
    }

    /// The `done/` partition of an id: the UTC day its timestamp names.
    public static func day(of id: String) -> String {
        EnvelopeID.timestamp(of: id)?.day ?? "00000000"
    }

    /// A staging name in `tmp/`: `.<host>.<pid>.<random>.<purpose>`, so a janitor on the same host
    /// can tell that its writer is gone.
    public static func staging(_ purpose: String) -> String {
        "." + Host.name + "." + String(getpid()) + "." + FileOps.randomHex(10) + "." + purpose
    }

    /// Parses a staging name: its writer's host and pid.
    public static func parseStaging(_ name: String) -> (host: String, pid: Int32)? {
        guard name.hasPrefix(".") else { return nil }
        let parts = name.dropFirst().split(separator: ".", maxSplits: 3)
        guard parts.count >= 3, let pid = Int32(parts[1]) else { return nil }
        return (String(parts[0]), pid)
    }

    /// A canonical decimal number: digits only, no sign, no leading zero, at most 9 digits.
    static func canonicalNumber(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            text == "0" || text.first != "0"
        else { return nil }
        return Int(text)
    }

    private static func splitEpoch(_ stem: Substring) -> (String, Int)? {
        guard let dot = stem.lastIndex(of: "."), stem[stem.index(after: dot)...].first == "e",
            let epoch = canonicalNumber(stem[stem.index(dot, offsetBy: 2)...]), epoch >= 1
        else { return nil }
        let id = String(stem[..<dot])
        return Limits.isValidEnvelopeID(id) ? (id, epoch) : nil
    }
}

#if canImport(Glibc)
    import Glibc
#endif
