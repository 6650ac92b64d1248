#if canImport(Glibc)
    import Glibc
#endif

/// Signs and checks envelope files with a key every process on a bus shares (HMAC-SHA256).
///
/// A signed envelope file is the unsigned file with one last top-level member added,
/// `"sig":"hmac-sha256:<key id>:<64 hex digits>"`, where the digits are the HMAC-SHA256, under
/// the key, of the unsigned file's exact bytes. See docs/PROTOCOL.md, "Signed envelopes".
public struct EnvelopeSigner: Sendable, Equatable {
    /// The algorithm name a signature starts with.
    public static let algorithm = "hmac-sha256"
    /// Shortest key accepted, in bytes.
    public static let minimumKeyBytes = 16

    /// The name of the key, written in every signature.
    public let keyID: String
    private let key: [UInt8]

    /// A signer with `key` named `keyID`.
    /// - Throws: ``BusError`` `invalidBus` for a key shorter than ``minimumKeyBytes`` or a bad key id.
    public init(keyID: String, key: [UInt8]) throws(BusError) {
        guard Self.isValidKeyID(keyID) else {
            throw BusError(.invalidBus, "the signing key id \"\(keyID.prefix(40))\" must be 1 to 64 of [A-Za-z0-9_-]")
        }
        guard key.count >= Self.minimumKeyBytes else {
            throw BusError(
                .invalidBus, "the signing key is \(key.count) bytes; it must be at least \(Self.minimumKeyBytes)")
        }
        self.keyID = keyID
        self.key = key
    }

    /// True for 1 to 64 characters of `[A-Za-z0-9_-]`.
    public static func isValidKeyID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d || $0 == 0x5f
            }
    }

    /// The `sig` value for the unsigned envelope file `bytes`.
    public func signature(of bytes: [UInt8]) -> String {
        Self.algorithm + ":" + keyID + ":" + HMACSHA256.hex(HMACSHA256.authenticationCode(key: key, message: bytes))
    }

    /// The signed form of the unsigned envelope file `bytes`, which must end with `}\n`.
    /// - Throws: ``BusError`` `invalidEnvelope` when `bytes` does not end with `}\n`.
    public func sign(_ bytes: [UInt8]) throws(BusError) -> [UInt8] {
        guard bytes.count >= 2, bytes[bytes.count - 2] == UInt8(ascii: "}"), bytes[bytes.count - 1] == 0x0a else {
            throw BusError(.invalidEnvelope, "only an envelope file that ends with \"}\\n\" can be signed")
        }
        var out = Array(bytes.dropLast(2))
        out.append(contentsOf: Array((",\"sig\":\"" + signature(of: bytes) + "\"}\n").utf8))
        return out
    }

    /// Why the envelope file `bytes` is not signed with this key, or `nil` when it is.
    ///
    /// The reason starts with `unsigned` for a file without a trailing `sig` member, and with
    /// `bad signature` for a signature that is malformed, names another key, or does not match.
    public func problem(in bytes: [UInt8]) -> String? {
        guard let (unsigned, sig) = Self.split(bytes) else {
            if case .object(let members)? = try? JSONValue.parse(bytes), members["sig"] != nil {
                return "bad signature: \"sig\" must be the last member, written as ,\"sig\":\"…\"} and a newline"
            }
            return "unsigned: this bus requires envelopes signed with key \"\(keyID)\""
        }
        let parts = sig.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.algorithm, parts[2].utf8.count == 64,
            parts[2].utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            return "bad signature: \"sig\" must be \"\(Self.algorithm):<key id>:<64 lower-case hex digits>\""
        }
        guard parts[1] == keyID else {
            return "bad signature: signed with key \"\(parts[1].prefix(64))\", but this bus uses key \"\(keyID)\""
        }
        let expected = HMACSHA256.authenticationCode(key: key, message: unsigned)
        guard HMACSHA256.constantTimeEqual(Array(HMACSHA256.hex(expected).utf8), Array(parts[2].utf8)) else {
            return "bad signature: the HMAC does not match the envelope (a forged or altered envelope, or another key)"
        }
        return nil
    }

    /// Splits a signed file into the unsigned file's bytes and the `sig` value; `nil` when the file
    /// does not end with a `,"sig":"…"}` member (then a newline).
    static func split(_ bytes: [UInt8]) -> ([UInt8], String)? {
        let marker = Array(",\"sig\":\"".utf8)
        guard bytes.count > marker.count + 3, bytes.last == 0x0a, bytes[bytes.count - 2] == UInt8(ascii: "}"),
            bytes[bytes.count - 3] == UInt8(ascii: "\"")
        else { return nil }
        let valueEnd = bytes.count - 3
        // The value has no quote or backslash, so the marker is the last `"` run before it.
        var start = valueEnd
        while start > 0 && bytes[start - 1] != UInt8(ascii: "\"") && bytes[start - 1] != UInt8(ascii: "\\") {
            start -= 1
        }
        let markerStart = start - marker.count
        guard markerStart >= 1, Array(bytes[markerStart..<start]) == marker else { return nil }
        let value = String(decoding: bytes[start..<valueEnd], as: UTF8.self)
        var unsigned = Array(bytes[..<markerStart])
        unsigned.append(contentsOf: [UInt8(ascii: "}"), 0x0a])
        return (unsigned, value)
    }
}

extension EnvelopeSigner {
    /// Reads the key from `path`: the file's bytes, less one final newline.
    ///
    /// The file must be a regular file outside the bus with no permission bits for others (and,
    /// on a private bus, none for the group either), so the key never travels through the bus.
    /// - Throws: ``BusError`` `invalidBus` naming the file and what is wrong with it.
    public static func load(keyFile path: String, keyID: String, busRoot: String, groupShared: Bool) throws(BusError)
        -> EnvelopeSigner
    {
        guard path.hasPrefix("/") else {
            throw BusError(.invalidBus, "the signing key file must be an absolute path, not \"\(path)\"")
        }
        if resolved(path).hasPrefix(resolved(busRoot) + "/") {
            throw BusError(.invalidBus, "the signing key file \(path) is inside the bus; keep it outside")
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw BusError(.invalidBus, "cannot read the signing key file \(path)", errno: errno)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw BusError(.invalidBus, "the signing key file \(path) is not a regular file")
        }
        let forbidden: mode_t = groupShared ? 0o007 : 0o077
        guard st.st_mode & forbidden == 0 else {
            let mode = String(st.st_mode & 0o7777, radix: 8)
            throw BusError(
                .invalidBus,
                "the signing key file \(path) has mode 0\(mode); it must be readable by its owner"
                    + (groupShared ? " and group only (chmod 0640)" : " only (chmod 0600)"))
        }
        var key: [UInt8]
        switch FileOps.readRegular(path, limit: 4096) {
        case .bytes(let bytes): key = bytes
        case .tooLarge(let size):
            throw BusError(.invalidBus, "the signing key file \(path) is \(size) bytes (at most 4096)")
        case .failed(let err): throw BusError(.invalidBus, "cannot read the signing key file \(path)", errno: err)
        case .missing, .notRegular:
            throw BusError(.invalidBus, "cannot read the signing key file \(path)")
        }
        if key.last == 0x0a { key.removeLast() }
        do throws(BusError) {
            return try EnvelopeSigner(keyID: keyID, key: key)
        } catch {
            throw BusError(.invalidBus, "\(path): \(error.message)")
        }
    }

    private static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
