import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Appends journal lines to `runs/<run>/journal/<worker>.jsonl`.
///
/// Every worker writes only its own file, so appends never interleave, even over NFS where
/// `O_APPEND` is not atomic between clients. Lines are not fsynced: the queue folders are the truth
/// and the journal is their index.
public final class JournalWriter: Sendable {
    private let layout: BusLayout
    private let worker: String
    private let files = Mutex<[String: Int32]>([:])
    private static let maxOpenFiles = 32

    /// A writer for `worker` on the bus at `layout`.
    public init(layout: BusLayout, worker: String) {
        self.layout = layout
        self.worker = worker
    }

    deinit {
        files.withLock { open in
            for fd in open.values { close(fd) }
        }
    }

    /// Appends `event` to `run`'s journal. Journal failures are reported, never fatal to the
    /// operation that already happened.
    @discardableResult
    public func record(_ event: JournalEvent, run: String) -> BusError? {
        let line = Array((event.json.serialized() + "\n").utf8)
        return files.withLock { open -> BusError? in
            let fd: Int32
            if let existing = open[run] {
                fd = existing
            } else {
                let dir = layout.journal(run)
                do throws(BusError) {
                    try FileOps.makeDirectories(dir, mode: Bus.directoryMode)
                } catch {
                    return error
                }
                let path = dir + "/" + worker + ".jsonl"
                fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, Bus.fileMode)
                if fd < 0 { return BusError(.io, "cannot open journal \(path)", errno: errno) }
                if open.count >= Self.maxOpenFiles, let victim = open.first {
                    close(victim.value)
                    open.removeValue(forKey: victim.key)
                }
                open[run] = fd
            }
            let n = line.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n != line.count { return BusError(.io, "cannot append to the journal of run \(run)", errno: errno) }
            return nil
        }
    }
}
