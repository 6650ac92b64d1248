/// The protocol's limits and character sets, enforced when envelopes are written and read.
public struct Limits: Sendable, Equatable {
    /// Largest envelope file, in bytes (1 MiB by default).
    public var maxEnvelopeBytes: Int = 1 << 20
    /// Deepest nesting of arrays and objects in an envelope, the top-level object included.
    public var maxDepth: Int = 32

    /// Longest run or task id, in bytes.
    public static let maxIDLength = 128
    /// Longest envelope id, in bytes: short enough that the longest claim name,
    /// `<id>.e<N>@<worker>.json`, stays under the 255-byte file-name limit.
    public static let maxEnvelopeIDLength = 100
    /// Longest kind, in bytes.
    public static let maxKindLength = 64
    /// Longest role name, in bytes.
    public static let maxRoleLength = 32

    /// The default limits.
    public init() {}

    /// Creates limits.
    public init(maxEnvelopeBytes: Int, maxDepth: Int) {
        self.maxEnvelopeBytes = maxEnvelopeBytes
        self.maxDepth = maxDepth
    }

    static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66)
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
            || b == 0x2E
    }

    /// An envelope id: 13 digits of Unix milliseconds, `-`, then `[A-Za-z0-9_-]`; at most 100 bytes.
    ///
    /// Ids have no dots, so queue file names (`<id>.e<N>@<worker>.json`) parse without ambiguity.
    public static func isValidEnvelopeID(_ id: String) -> Bool {
        let u = Array(id.utf8)
        guard u.count >= 15, u.count <= maxEnvelopeIDLength, u[13] == 0x2D else { return false }
        for i in 0..<13 where !(u[i] >= 0x30 && u[i] <= 0x39) { return false }
        return u[14...].allSatisfy { isNameByte($0) && $0 != 0x2E }
    }

    /// Run and task ids: `[A-Za-z0-9._-]`, 1 to 128 bytes, not starting with `.` or `-`.
    public static func checkName(_ value: String, field: String) throws(BusError) {
        let u = Array(value.utf8)
        guard !u.isEmpty, u.count <= maxIDLength else {
            throw BusError(.invalidEnvelope, "\(field) must be 1 to \(maxIDLength) bytes")
        }
        guard u.allSatisfy(isNameByte), u[0] != 0x2E, u[0] != 0x2D else {
            throw BusError(
                .invalidEnvelope, "\(field) \"\(value.prefix(40))\" must use [A-Za-z0-9._-] and not start with . or -")
        }
    }

    /// Role names: `[a-z][a-z0-9-]*`, at most 32 bytes.
    public static func checkRole(_ value: String, field: String) throws(BusError) {
        let u = Array(value.utf8)
        guard !u.isEmpty, u.count <= maxRoleLength, u[0] >= 0x61, u[0] <= 0x7A,
            u.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else {
            throw BusError(.invalidEnvelope, "\(field) \"\(value.prefix(40))\" must match [a-z][a-z0-9-]{0,31}")
        }
    }

    /// Kinds: `[a-z][a-z0-9._-]*`, at most 64 bytes.
    public static func checkKind(_ value: String, field: String) throws(BusError) {
        let u = Array(value.utf8)
        guard !u.isEmpty, u.count <= maxKindLength, u[0] >= 0x61, u[0] <= 0x7A,
            u.allSatisfy({
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F
            })
        else {
            throw BusError(.invalidEnvelope, "\(field) \"\(value.prefix(40))\" must match [a-z][a-z0-9._-]{0,63}")
        }
    }

    /// Host names: `[A-Za-z0-9-]`, 1 to 63 bytes.
    public static func checkHost(_ value: String, field: String) throws(BusError) {
        let u = Array(value.utf8)
        guard !u.isEmpty, u.count <= 63,
            u.allSatisfy({
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D
            })
        else {
            throw BusError(.invalidEnvelope, "\(field) \"\(value.prefix(40))\" must match [A-Za-z0-9-]{1,63}")
        }
    }
}
