import CPlanbusShim
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process in its own process group, inheriting no file descriptors but the three
/// standard ones.
///
/// `posix_spawn` with `POSIX_SPAWN_SETPGROUP` and `closefrom(3)`; waiting is a blocking
/// `waitpid` on a dedicated thread, so it never occupies the concurrency pool.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): return "exit \(code)"
            case .signaled(let sig): return "signal \(sig)"
            }
        }
    }

    /// Where a standard stream of the child goes.
    public enum Output: Sendable {
        /// The parent's own stream.
        case inherit
        /// `/dev/null`.
        case null
        /// A file, created or appended to.
        case file(String)
    }

    /// The child's pid, which is also its process group id.
    public let pid: Int32
    private let status = Mutex<Exit?>(nil)
    private let waiters = Mutex<[CheckedContinuation<Exit, Never>]>([])

    private init(pid: Int32) {
        self.pid = pid
    }

    /// Starts `arguments[0]` (searched in `PATH` when it has no slash).
    /// - Throws: ``LauncherError`` `spawnFailed` with the errno.
    public static func spawn(
        _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        stdout: Output = .inherit, stderr: Output = .inherit
    ) throws(LauncherError) -> ChildProcess {
        guard !arguments.isEmpty else { throw LauncherError(.invalidArgument, "no command to run") }
        let env = (environment ?? Foundation.ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        func openTarget(_ output: Output) -> Int32 {
            switch output {
            case .inherit: return -1
            case .null: return open("/dev/null", O_WRONLY | O_CLOEXEC)
            case .file(let path): return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            }
        }
        let outFD = openTarget(stdout)
        let errFD = openTarget(stderr)
        let inFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            for fd in [outFD, errFD, inFD] where fd >= 0 { close(fd) }
        }
        var pid: pid_t = 0
        let rc = withCStrings(arguments) { argv in
            withCStrings(env) { envp in
                planbus_spawn(argv, envp, directory, 1, inFD, outFD, errFD, &pid)
            }
        }
        guard rc == 0 else {
            throw LauncherError(.spawnFailed, "cannot start \(arguments[0])", errno: rc)
        }
        let child = ChildProcess(pid: pid)
        let thread = Thread { child.reap() }
        thread.name = "planbus-wait-\(pid)"
        thread.start()
        return child
    }

    private func reap() {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            if errno != EINTR {
                raw = 0
                break
            }
        }
        let exit: Exit = (raw & 0x7f) == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
        status.withLock { $0 = exit }
        let pending = waiters.withLock { w -> [CheckedContinuation<Exit, Never>] in
            let all = w
            w = []
            return all
        }
        for continuation in pending { continuation.resume(returning: exit) }
    }

    /// How the child ended, or `nil` while it runs.
    public var exitStatus: Exit? { status.withLock { $0 } }

    /// Waits for the child to end.
    public func wait() async -> Exit {
        await withCheckedContinuation { continuation in
            let done: Exit? = waiters.withLock { w in
                if let s = status.withLock({ $0 }) { return s }
                w.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// Sends `signal` to the child alone.
    public func send(_ signal: Int32) {
        if exitStatus == nil { kill(pid, signal) }
    }

    /// Sends `signal` to the child's whole process group.
    public func sendToGroup(_ signal: Int32) {
        kill(-pid, signal)
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers = strings.map { UnsafePointer(strdup($0)) }
    pointers.append(nil)
    defer {
        for p in pointers where p != nil { free(UnsafeMutablePointer(mutating: p)) }
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
