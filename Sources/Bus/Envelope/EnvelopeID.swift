import Synchronization

/// Makes envelope ids: `<13-digit Unix ms>-<6-digit sequence>-<host>-<pid>`.
///
/// Ids sort by creation time, are unique across hosts as long as host names are, are safe as file
/// names, and are the idempotency key of an envelope: a producer that retries reuses the id.
public enum EnvelopeID {
    private static let sequence = Atomic<Int>(0)

    /// A new id for this process.
    public static func make(host: String = Host.name, at time: Timestamp = .now()) -> String {
        let seq = sequence.add(1, ordering: .relaxed).newValue % 1_000_000
        let ms = String(max(0, min(time.milliseconds, 9_999_999_999_999)))
        let s = String(seq)
        return String(repeating: "0", count: 13 - ms.count) + ms + "-" + String(repeating: "0", count: 6 - s.count) + s
            + "-" + host + "-" + String(getpid())
    }

    /// The creation time encoded in an id.
    public static func timestamp(of id: String) -> Timestamp? {
        guard Limits.isValidEnvelopeID(id), let ms = Int64(id.prefix(13)) else { return nil }
        return Timestamp(milliseconds: ms)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
