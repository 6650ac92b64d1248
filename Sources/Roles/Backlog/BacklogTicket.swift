import Bus

/// A plan file taken from a backlog: its name and when it was taken, which with its content
/// decide the run id and the goal's envelope id.
///
/// The ids depend on nothing else, so a submission retried after a crash (the file still in
/// `.taking/`) sends the goal with the same id, and the bus keeps one. The same file dropped again
/// later is taken at another time, so it is a new run.
struct BacklogTicket: Sendable, Equatable {
    /// The file's name in the backlog, such as `fix-typos.yaml`.
    let name: String
    /// When it was taken (Unix milliseconds, kept in its name in `.taking/`).
    let takenAt: Timestamp

    init(name: String, takenAt: Timestamp) {
        self.name = name
        self.takenAt = takenAt
    }

    /// Parses a name in `.taking/`: 13 digits of Unix milliseconds, `-`, the original name.
    init?(fileName: String) {
        let bytes = Array(fileName.utf8)
        guard bytes.count > 14, bytes[13] == UInt8(ascii: "-"),
            bytes[..<13].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let ms = Int64(String(decoding: bytes[..<13], as: UTF8.self))
        else { return nil }
        let name = String(decoding: bytes[14...], as: UTF8.self)
        guard BacklogFolder.isPlanName(name) else { return nil }
        self.init(name: name, takenAt: Timestamp(milliseconds: ms))
    }

    /// The file's name in `.taking/`.
    var fileName: String { Self.milliseconds(takenAt) + "-" + name }

    /// The run id for the file's `content`: the name's stem reduced to `[A-Za-z0-9_-]` (at most 40
    /// bytes, `plan` when nothing is left), `-`, then 10 hex digits of the SHA-256 of the name,
    /// the time taken and the content.
    func run(content: [UInt8]) -> String {
        var stem = name.hasSuffix(".yaml") ? String(name.dropLast(5)) : String(name.dropLast(4))
        stem = String(
            stem.unicodeScalars.prefix(40).map { scalar -> Character in
                let ok =
                    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || scalar == "_" || scalar == "-"
                return ok ? Character(scalar) : "_"
            })
        while stem.hasPrefix("-") { stem.removeFirst() }
        if stem.isEmpty { stem = "plan" }
        let hash = SHA256.hex(Array((name + "\n" + Self.milliseconds(takenAt) + "\n").utf8) + content)
        return stem + "-" + hash.prefix(10)
    }

    /// The goal's envelope id for run `run`: the time taken, then `goal-<run>`.
    func goalID(run: String) -> String {
        String((Self.milliseconds(takenAt) + "-goal-" + run).prefix(Limits.maxEnvelopeIDLength))
    }

    /// `time` as 13 digits of Unix milliseconds.
    static func milliseconds(_ time: Timestamp) -> String {
        let ms = String(max(0, min(time.milliseconds, 9_999_999_999_999)))
        return String(repeating: "0", count: 13 - ms.count) + ms
    }
}
