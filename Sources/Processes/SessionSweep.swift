#if canImport(Glibc)
    import Glibc
#endif

/// Kills what is left of a session: the processes whose session id, per `/proc/<pid>/stat`, is
/// the given one.
///
/// A child started in a session of its own that dies by SIGKILL cannot stop what it started, and
/// the processes those started in process groups of their own (git's own helpers, such as the
/// `git reset --hard` of a `git worktree add`) outlive it: they would go on writing into the
/// folders that the next holder of its work cleans up.
enum SessionSweep {
    /// SIGKILLs every process of session `session` (but the leader itself).
    static func killAll(session: Int32) {
        guard let dir = opendir("/proc") else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), pid != session, Self.session(of: pid) == session else { continue }
            kill(pid, SIGKILL)
        }
    }

    /// The session id of `pid` (the sixth field of `/proc/<pid>/stat`, the fourth after the name).
    static func session(of pid: Int32) -> Int32? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[..<n], as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 3 ? Int32(String(fields[3])) : nil
    }
}
