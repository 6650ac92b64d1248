import CPlanbusShim
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An anonymous file in memory (`memfd_create`; on a kernel without it, an unlinked temporary
/// file): where a child's output goes to be read back once it has ended, or the input it reads.
///
/// A short-lived command (the roles run several git commands for each envelope) then costs no
/// file created and removed on disk: on ext4, each removed inode slows the allocation of new ones
/// for minutes, and the bus's own files are allocated on the same filesystem. Unlike a pipe, the
/// child never blocks on a reader or a writer, so no thread has to drain or feed it.
///
/// Reads and writes take an explicit offset (`pread`, `pwrite`), so the descriptor's own offset
/// stays at 0, where a child given it as its standard input starts reading.
public final class MemoryFile: Sendable {
    /// The descriptor (close-on-exec; a child gets its own copy as a standard stream).
    public let descriptor: Int32

    /// A new, empty file.
    /// - Throws: ``ProcessError`` `spawnFailed` with the errno when it cannot be made.
    public init() throws(ProcessError) {
        let fd = planbus_memfd("planbus", FileManager.default.temporaryDirectory.path)
        guard fd >= 0 else {
            throw ProcessError(.spawnFailed, "cannot make a file in memory for a child", errno: errno)
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
    public var output: ChildProcess.Output { .memory(self) }

    /// What the file holds from byte `offset` on, at most `limit` bytes (fewer only at its end).
    public func read(from offset: Int = 0, limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(limit, 1 << 20))
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
