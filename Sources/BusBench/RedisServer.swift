import Bus
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// A private `redis-server` for one measurement: its own free loopback port and its own scratch
/// folder, started and stopped by the benchmark.
final class RedisServer {
    /// How the server keeps its data.
    enum Persistence: String, Sendable {
        /// `--save '' --appendonly no`: memory only, as Redis streams are usually run for speed.
        case memory
        /// `--appendonly yes --appendfsync always`: every write is in the append-only file, fsynced,
        /// before the reply; the durable case to compare with a durable bus.
        case appendFsyncAlways = "aof-always"

        /// The server's arguments for this mode.
        var arguments: [String] {
            switch self {
            case .memory: return ["--save", "", "--appendonly", "no"]
            case .appendFsyncAlways: return ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
            }
        }
    }

    /// The loopback port it listens on.
    let port: UInt16
    /// Its folder (data files and log).
    let folder: String
    private let child: ChildProcess

    /// The `redis-server` executable on `PATH` (or in `/usr/bin`, `/usr/sbin`), if installed.
    static func executable() -> String? {
        let path = (getenv("PATH").map { String(cString: $0) } ?? "") + ":/usr/bin:/usr/sbin:/usr/local/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = String(dir) + "/redis-server"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The `redis-server --version` line, or `nil`.
    static func version(_ executable: String) async -> String? {
        guard let run = try? await ProgramRun.run([executable, "--version"], timeout: .seconds(10)), run.succeeded
        else { return nil }
        return run.stdout.split(separator: "\n").first.map(String.init)
    }

    /// Starts `executable` in `folder` on a free loopback port and waits until it answers `PING`.
    /// - Throws: ``BenchError`` `process` when it does not start or never answers within 10 s.
    init(executable: String, folder: String, persistence: Persistence) async throws {
        self.folder = folder
        var lastError = ""
        for _ in 0..<5 {
            let port = try Self.freePort()
            let child = try ChildProcess.spawn(
                [
                    executable, "--port", String(port), "--bind", "127.0.0.1", "--dir", folder, "--daemonize", "no",
                    "--protected-mode", "yes", "--logfile", folder + "/redis.log", "--databases", "1",
                ] + persistence.arguments, directory: folder, stdout: .null, stderr: .file(folder + "/redis.err"),
                diesWithParent: true)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while clock.now < deadline && child.exitStatus == nil {
                if let connection = try? RedisConnection(port: port),
                    (try? connection.call(["PING"]))?.text == "PONG"
                {
                    self.port = port
                    self.child = child
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            lastError = "redis-server on port \(port): " + (child.exitStatus.map { "ended with \($0)" } ?? "no answer")
            child.send(SIGKILL)
            _ = await child.wait()
        }
        throw BenchError(.process, lastError)
    }

    /// Stops the server (`SHUTDOWN NOSAVE`, then SIGKILL if it lingers) and waits for it.
    func stop() async {
        if let connection = try? RedisConnection(port: port) {
            try? connection.send([Array("SHUTDOWN".utf8), Array("NOSAVE".utf8)])
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while child.exitStatus == nil && clock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if child.exitStatus == nil { child.send(SIGKILL) }
        _ = await child.wait()
    }

    /// A loopback port nothing listens on now (bound to port 0, read back, released).
    static func freePort() throws(BenchError) -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError(.io, "socket", errno: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw BenchError(.io, "cannot find a free loopback port", errno: errno) }
        return UInt16(bigEndian: address.sin_port)
    }
}
