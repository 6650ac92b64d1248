#if canImport(Glibc)
    import Glibc
#endif

/// This machine's name and boot, as the bus sees them.
public enum Host {
    /// The host name reduced to the protocol's charset, or `PLANBUS_HOST` when set.
    public static let name: String = {
        if let forced = getenv("PLANBUS_HOST").map({ String(cString: $0) }), !forced.isEmpty {
            return sanitize(forced)
        }
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let raw = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return sanitize(raw.isEmpty ? "localhost" : raw)
    }()

    /// The kernel's boot id: two processes with the same host and boot id share a process table.
    public static let bootID: String = {
        switch FileOps.readRegular("/proc/sys/kernel/random/boot_id", limit: 128) {
        case .bytes(let b): return String(decoding: b, as: UTF8.self).filter { $0.isHexDigit }
        default: return ""
        }
    }()

    /// Maps any text to `[A-Za-z0-9-]{1,63}`: other characters, dots included, become `-`.
    public static func sanitize(_ raw: String) -> String {
        var out = String(
            raw.unicodeScalars.prefix(63).map { s -> Character in
                s.isASCII && (Character(s).isLetter || Character(s).isNumber) ? Character(s) : "-"
            })
        if out.isEmpty { out = "host" }
        return out
    }
}
