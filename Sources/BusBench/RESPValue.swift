/// A value of RESP2, the protocol Redis speaks: what a reply holds.
public enum RESPValue: Sendable, Equatable {
    /// `+OK`.
    case simple(String)
    /// `-ERR …`.
    case error(String)
    /// `:42`.
    case integer(Int)
    /// `$3 abc`; `nil` for the null bulk string `$-1`.
    case bulk([UInt8]?)
    /// `*2 …`; `nil` for the null array `*-1`.
    case array([RESPValue]?)

    /// The text of a simple or bulk string.
    public var text: String? {
        switch self {
        case .simple(let s): return s
        case .bulk(let bytes?): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// The elements of a non-null array.
    public var elements: [RESPValue]? {
        if case .array(let items?) = self { return items }
        return nil
    }
}

/// Encodes commands as RESP arrays of bulk strings, the form a client sends.
public enum RESPEncoder {
    /// `*N\r\n` then `$len\r\narg\r\n` for each argument.
    public static func command(_ arguments: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + arguments.reduce(0) { $0 + $1.count + 16 })
        out += Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            out += Array("$\(argument.count)\r\n".utf8)
            out += argument
            out += [0x0D, 0x0A]
        }
        return out
    }

    /// The same with text arguments.
    public static func command(_ arguments: [String]) -> [UInt8] {
        command(arguments.map { Array($0.utf8) })
    }
}

/// Decodes RESP2 replies from bytes that may arrive in pieces.
public enum RESPParser {
    /// A reply that cannot be RESP.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        /// What was wrong, and where.
        public var description: String
    }

    /// Parses one value starting at `start`: the value and the index just after it, or `nil` when
    /// the bytes end before the value does (read more and try again).
    /// - Throws: ``Malformed`` when the bytes are not RESP.
    public static func parse(_ bytes: [UInt8], from start: Int = 0) throws(Malformed) -> (RESPValue, Int)? {
        guard start < bytes.count else { return nil }
        guard let (line, next) = lineEnd(bytes, from: start + 1) else { return nil }
        let header = String(decoding: bytes[(start + 1)..<line], as: UTF8.self)
        switch bytes[start] {
        case UInt8(ascii: "+"): return (.simple(header), next)
        case UInt8(ascii: "-"): return (.error(header), next)
        case UInt8(ascii: ":"):
            guard let n = Int(header) else { throw Malformed(description: "bad integer \(header)") }
            return (.integer(n), next)
        case UInt8(ascii: "$"):
            guard let n = Int(header), n >= -1 else { throw Malformed(description: "bad bulk length \(header)") }
            if n == -1 { return (.bulk(nil), next) }
            guard bytes.count >= next + n + 2 else { return nil }
            guard bytes[next + n] == 0x0D, bytes[next + n + 1] == 0x0A else {
                throw Malformed(description: "bulk string of \(n) bytes not ended by CRLF")
            }
            return (.bulk(Array(bytes[next..<(next + n)])), next + n + 2)
        case UInt8(ascii: "*"):
            guard let n = Int(header), n >= -1 else { throw Malformed(description: "bad array length \(header)") }
            if n == -1 { return (.array(nil), next) }
            var items: [RESPValue] = []
            items.reserveCapacity(n)
            var position = next
            for _ in 0..<n {
                guard let (item, after) = try parse(bytes, from: position) else { return nil }
                items.append(item)
                position = after
            }
            return (.array(items), position)
        default:
            throw Malformed(description: "unknown reply type byte \(bytes[start]) at \(start)")
        }
    }

    /// The index of the `\r` ending the line that starts at `from`, and the index after `\r\n`.
    private static func lineEnd(_ bytes: [UInt8], from: Int) -> (Int, Int)? {
        var i = from
        while i + 1 < bytes.count {
            if bytes[i] == 0x0D && bytes[i + 1] == 0x0A { return (i, i + 2) }
            i += 1
        }
        return nil
    }
}
