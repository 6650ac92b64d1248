import Bus
import CPlanbusShim
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The lock that allows one supervisor per bus per host: an exclusive open-file-description lock
/// (`F_OFD_SETLK`) on `sup/<host>/lock`, held for the supervisor's life and dropped by the kernel
/// when it dies. Whether it is held is asked with `F_OFD_GETLK`, which takes nothing, so `ps` or
/// `down` never make a starting supervisor fail.
public final class SupervisorLock: Sendable {
    private let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    /// Takes the lock, or says who holds it.
    /// - Throws: ``LauncherError`` `conflict` naming the running supervisor, or `io`.
    public static func acquire(_ files: SupervisorFiles) throws(LauncherError) -> SupervisorLock {
        do {
            try FileManager.default.createDirectory(atPath: files.logs, withIntermediateDirectories: true)
        } catch {
            throw LauncherError(.io, "cannot create \(files.logs): \(error)")
        }
        let fd = open(files.lock, O_RDWR | O_CREAT | O_CLOEXEC, Bus.fileMode)
        guard fd >= 0 else { throw LauncherError(.io, "cannot open \(files.lock)", errno: errno) }
        let err = planbus_lock(fd)
        guard err == 0 else {
            close(fd)
            if err == EAGAIN {
                let pid = Self.recordedPid(files).map { " (pid \($0))" } ?? ""
                throw LauncherError(
                    .conflict,
                    "a supervisor\(pid) already runs for bus \(files.layout.root) on host \(files.host); "
                        + "planbus ps shows it and planbus down stops it")
            }
            throw LauncherError(.io, "cannot lock \(files.lock)", errno: err)
        }
        let lock = SupervisorLock(fd: fd)
        try? FileOps.writeAtomically(
            Array("\(getpid())\n".utf8), to: files.pid, stagingDirectory: files.layout.tmp, mode: Bus.fileMode,
            durable: false)
        return lock
    }

    /// True when a supervisor holds the lock for this bus and host now.
    public static func isHeld(_ files: SupervisorFiles) -> Bool {
        let fd = open(files.lock, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return planbus_lock_held(fd) == 1
    }

    /// The pid in `supervisor.pid`, if any.
    public static func recordedPid(_ files: SupervisorFiles) -> Int32? {
        guard let text = try? String(contentsOfFile: files.pid, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Drops the lock.
    public func release() {
        close(fd)
    }
}
