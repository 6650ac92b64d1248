import CPlanbusShim
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process in its own process group, inheriting no file descriptors but the three
/// standard ones.
///
/// `clone(CLONE_VM | CLONE_VFORK)` + `exec` with `setpgid` and `close_range(3, ~0)` (the child
/// borrows the caller's memory until it execs, so spawning costs the same however large this
/// process is); waiting is a blocking `waitpid` on a dedicated thread (the one that started the
/// child), so it never occupies the concurrency pool.
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
        /// A file with no name, which the child writes from its start; it stays the caller's
        /// (the child writes to its own copy of the descriptor).
        case anonymous(AnonymousFile)
    }

    /// The child's pid, which is also its process group id.
    public let pid: Int32
    private let status = Mutex<Exit?>(nil)
    private let waiters = Mutex<[CheckedContinuation<Exit, Never>]>([])
    private let killsGroupOnExit: Bool
    /// Whether the child leads a session of its own, which ``reap()`` then sweeps too.
    private let newSession: Bool

    private init(pid: Int32, killsGroupOnExit: Bool, newSession: Bool = false) {
        self.newSession = newSession
        self.pid = pid
        self.killsGroupOnExit = killsGroupOnExit
    }

    /// Starts `arguments[0]` (searched in `PATH` when it has no slash).
    ///
    /// The child is started from the thread that will wait for it, which lives exactly as long as
    /// the child: with `diesWithParent`, the kernel SIGKILLs the child when that thread ends, which
    /// happens only when this process dies (a `SIGKILL` of the supervisor leaves no orphan).
    ///
    /// The child is reaped only after its exit has been seen (`waitid` with `WNOWAIT`), so its pid,
    /// and so its process group id, cannot be reused while ``send(_:)`` or ``sendToGroup(_:)`` may
    /// still signal it.
    /// - Parameters:
    ///   - environment: the child's environment (this process's when `nil`); its `PATH` is where
    ///     a command without a slash is looked for.
    ///   - stdin: what the child reads (from its start); `/dev/null` when `nil`.
    ///   - newSession: start a new session instead of only a new process group: no controlling
    ///     terminal, so a program that opens `/dev/tty` gets an error rather than being stopped.
    ///   - diesWithParent: the child is killed when this process dies.
    ///   - killsGroupOnExit: when the child exits, SIGKILL what is left of its process group (the
    ///     processes it started and left behind), and with `newSession`, of its session.
    /// - Throws: ``ProcessError`` `spawnFailed` with the errno.
    public static func spawn(
        _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        stdin: AnonymousFile? = nil, stdout: Output = .inherit, stderr: Output = .inherit, newSession: Bool = false,
        diesWithParent: Bool = false, killsGroupOnExit: Bool = false
    ) throws(ProcessError) -> ChildProcess {
        guard !arguments.isEmpty else { throw ProcessError(.invalidArgument, "no command to run") }
        let environment = environment ?? Foundation.ProcessInfo.processInfo.environment
        let program = try resolve(arguments[0], path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        let env = environment.map { "\($0.key)=\($0.value)" }
        // Each stream's descriptor, and whether it was opened here (and so is closed here): the
        // caller's anonymous files stay open.
        func openTarget(_ output: Output) -> (fd: Int32, opened: Bool) {
            switch output {
            case .inherit: return (-1, false)
            case .null: return (open("/dev/null", O_WRONLY | O_CLOEXEC), true)
            case .file(let path): return (open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600), true)
            case .anonymous(let file): return (file.descriptor, false)
            }
        }
        let targets: [(fd: Int32, opened: Bool)] = [
            stdin.map { ($0.descriptor, false) } ?? (open("/dev/null", O_RDONLY | O_CLOEXEC), true),
            openTarget(stdout), openTarget(stderr),
        ]
        let (inFD, outFD, errFD) = (targets[0].fd, targets[1].fd, targets[2].fd)
        defer {
            for (fd, opened) in targets where opened && fd >= 0 { close(fd) }
        }
        let flags = newSession ? Int32(PLANBUS_SPAWN_NEW_SESSION) : Int32(PLANBUS_SPAWN_NEW_GROUP)
        let started = SpawnResult()
        let thread = Thread {
            var pid: pid_t = 0
            let rc = withCStrings(arguments) { argv in
                withCStrings(env) { envp in
                    planbus_spawn(
                        program, argv, envp, directory, flags, diesWithParent ? SIGKILL : 0, inFD, outFD, errFD, &pid)
                }
            }
            guard rc == 0 else {
                started.finish(.failure(rc))
                return
            }
            let child = ChildProcess(pid: pid, killsGroupOnExit: killsGroupOnExit, newSession: newSession)
            started.finish(.success(child))
            child.reap()
        }
        thread.name = "planbus-child"
        thread.start()
        switch started.wait() {
        case .success(let child): return child
        case .failure(let rc): throw ProcessError(.spawnFailed, "cannot start \(arguments[0])", errno: rc)
        }
    }

    /// The program `name` runs: itself when it has a slash, else the first executable file of
    /// that name in `path`.
    static func resolve(_ name: String, path: String) throws(ProcessError) -> String {
        if name.contains("/") { return name }
        for folder in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (folder.isEmpty ? "." : String(folder)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw ProcessError(.spawnFailed, "cannot start \(name): not found in PATH (\(path))", errno: ENOENT)
    }

    private func reap() {
        // See the exit first, leaving the child a zombie: its pid and group id stay reserved while
        // the group is cleaned up and the status is recorded.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        var raw: Int32 = 0
        status.withLock { status in
            if killsGroupOnExit {
                kill(-pid, SIGKILL)
                if newSession { SessionSweep.killAll(session: pid) }
            }
            while waitpid(pid, &raw, 0) < 0 {
                if errno != EINTR {
                    raw = 0
                    break
                }
            }
            status = (raw & 0x7f) == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
        }
        let exit = exitStatus!
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

    /// Sends `signal` to the child alone, unless it has been reaped.
    public func send(_ signal: Int32) {
        status.withLock { if $0 == nil { kill(pid, signal) } }
    }

    /// Sends `signal` to the child's whole process group, unless the child has been reaped (its
    /// group id may then belong to someone else).
    public func sendToGroup(_ signal: Int32) {
        status.withLock { if $0 == nil { kill(-pid, signal) } }
    }
}

/// The outcome of a spawn, handed from the child's thread to the caller.
private final class SpawnResult: Sendable {
    enum Outcome: Sendable {
        case success(ChildProcess)
        case failure(Int32)
    }
    private let value = Mutex<Outcome?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func finish(_ outcome: Outcome) {
        value.withLock { $0 = outcome }
        ready.signal()
    }

    func wait() -> Outcome {
        ready.wait()
        return value.withLock { $0! }
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
