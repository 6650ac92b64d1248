import CPlanbusShim
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file with no name, gone with its last descriptor: where a child's output goes to be read
/// back once it has ended, or the input it reads. In memory (`memfd_create`) by default; on disk
/// (`O_TMPFILE` in the temporary directory) for output that may be larger than memory should hold,
/// or where memory files cannot be made.
///
/// In memory, a short-lived command (the roles run several git commands for each envelope) costs
/// no file created and removed on disk: on ext4, each removed inode slows the allocation of new
/// ones for minutes, and the bus's own files are allocated on the same filesystem. Unlike a pipe,
/// the child never blocks on a reader or a writer, so no thread has to drain or feed it.
///
/// A file serves one child: the child's copy of the descriptor shares the file's offset, which
/// its reads or writes move. This process reads and writes with an explicit offset (`pread`,
/// `pwrite`), so the offset is still 0 when the child gets the file.
public final class AnonymousFile: Sendable {
    /// The descriptor (close-on-exec; a child gets its own copy as a standard stream).
    public let descriptor: Int32

    /// A new, empty file: in memory, or with `onDisk` (or where memory files cannot be made) an
    /// unnamed file in the temporary directory.
    /// - Throws: ``ProcessError`` `spawnFailed` with the errno when it cannot be made.
    public init(onDisk: Bool = false) throws(ProcessError) {
        let folder = FileManager.default.temporaryDirectory.path
        let fd = onDisk ? planbus_tmpfile(folder) : planbus_memfd("planbus", folder)
        guard fd >= 0 else {
            throw ProcessError(.spawnFailed, "cannot make a file for a child's output or input", errno: errno)
        }
        descriptor = fd
    }

    /// A new file holding `text` (UTF-8), to be a child's standard input.
    /// - Throws: ``ProcessError`` `spawnFailed` with the errno when it cannot be made or written.
    public convenience init(holding text: String) throws(ProcessError) {
        try self.init()
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.count - written
            let n = bytes.withUnsafeMutableBytes {
                pwrite(descriptor, $0.baseAddress! + written, count, off_t(written))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw ProcessError(.spawnFailed, "cannot write a child's input", errno: errno) }
            written += n
        }
    }

    deinit {
        close(descriptor)
    }

    /// The file as a child's output stream.
    public var output: ChildProcess.Output { .anonymous(self) }

    /// What the file holds from byte `offset` on, at most `limit` bytes (fewer only at its end).
    /// The buffer is sized by what the file holds now, not by `limit`: a pump that looks every
    /// 100 ms, or a git command that printed a line, reads without clearing a megabyte first.
    public func read(from offset: Int = 0, limit: Int) -> [UInt8] {
        var status = stat()
        let size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 1 << 20
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(1, min(limit, size - offset, 1 << 20)))
        while bytes.count < limit {
            let wanted = min(chunk.count, limit - bytes.count)
            let got = chunk.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress, wanted, off_t(offset + bytes.count))
            }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { break }
            bytes += chunk[0..<got]
        }
        return bytes
    }

    /// ``read(from:limit:)`` from the start, as UTF-8 text (invalid sequences replaced).
    public func text(limit: Int) -> String {
        String(decoding: read(limit: limit), as: UTF8.self)
    }
}
