#if canImport(Glibc)
    import Glibc
#endif

/// A minimal, blocking Redis client over one loopback TCP connection (RESP2).
///
/// Commands are written whole and replies read in order, so several commands can be pipelined:
/// ``send(_:)`` them, then ``read()`` one reply each. Not thread-safe: one thread per connection.
public final class RedisConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var position = 0

    /// Connects to `127.0.0.1:port`, with `TCP_NODELAY` (no batching of small writes).
    /// - Throws: ``BenchError`` `io` when the connection fails.
    public init(port: UInt16) throws(BenchError) {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { throw BenchError(.io, "socket", errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let failure = errno
            close(socketFD)
            throw BenchError(.io, "cannot connect to 127.0.0.1:\(port)", errno: failure)
        }
        var one: Int32 = 1
        setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        fd = socketFD
    }

    deinit { close(fd) }

    /// Writes one command without waiting for its reply.
    public func send(_ arguments: [[UInt8]]) throws(BenchError) {
        try write(RESPEncoder.command(arguments))
    }

    /// Writes bytes already encoded (several commands, for a pipeline).
    public func write(_ bytes: [UInt8]) throws(BenchError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BenchError(.io, "cannot write to redis", errno: errno) }
            offset += n
        }
    }

    /// Reads the next reply, blocking until it is whole.
    /// - Throws: ``BenchError`` when the connection ends or the reply is not RESP.
    public func read() throws(BenchError) -> RESPValue {
        while true {
            do {
                if let (value, next) = try RESPParser.parse(buffer, from: position) {
                    position = next
                    if position == buffer.count {
                        buffer.removeAll(keepingCapacity: true)
                        position = 0
                    }
                    return value
                }
            } catch {
                throw BenchError(.unexpectedState, "redis reply: \(error.description)")
            }
            if position > 0 {
                buffer.removeFirst(position)
                position = 0
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BenchError(.io, "redis closed the connection", errno: n < 0 ? errno : nil) }
            buffer += chunk[0..<n]
        }
    }

    /// Sends one command and reads its reply; a Redis error reply is thrown.
    @discardableResult
    public func call(_ arguments: [String]) throws(BenchError) -> RESPValue {
        try call(arguments.map { Array($0.utf8) })
    }

    /// The same with byte arguments.
    @discardableResult
    public func call(_ arguments: [[UInt8]]) throws(BenchError) -> RESPValue {
        try send(arguments)
        let reply = try read()
        if case .error(let message) = reply {
            let name = arguments.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            throw BenchError(.unexpectedState, "redis \(name): \(message)")
        }
        return reply
    }
}
