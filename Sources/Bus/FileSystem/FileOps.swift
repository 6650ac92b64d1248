#if canImport(Glibc)
    import Glibc
#endif

/// Thin, allocation-light wrappers over the system calls the bus is made of.
///
/// Foundation's `FileManager` is avoided on the hot path: every operation here is one or two
/// system calls, and every failure carries its `errno`.
package enum FileOps {
    /// What a fenced read of a queue entry found.
    package enum ReadResult: Sendable, Equatable {
        case bytes([UInt8])
        case missing
        case notRegular(String)
        case tooLarge(Int)
        case failed(Int32)
    }

    /// Creates `path` with `O_CREAT|O_EXCL`; `nil` when it already exists.
    package static func createExclusive(_ path: String, mode: mode_t) throws(BusError) -> Int32? {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode)
        if fd >= 0 { return fd }
        if errno == EEXIST { return nil }
        throw BusError(.io, "cannot create \(path)", errno: errno)
    }

    /// Writes every byte of `bytes` to `fd`, retrying short writes and `EINTR`.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(BusError) {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw BusError(.io, "cannot write \(path)", errno: errno)
            }
            offset += n
        }
    }

    /// Writes every byte of `bytes` to `fd`.
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(BusError) {
        let failure: BusError? = bytes.withUnsafeBytes { raw in
            do throws(BusError) {
                try writeAll(fd, raw, path: path)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Closes `fd`, reporting a failed close (on NFS it is where a deferred write error shows).
    package static func closeChecked(_ fd: Int32, path: String) throws(BusError) {
        if close(fd) != 0 && errno != EINTR {
            throw BusError(.io, "cannot close \(path)", errno: errno)
        }
    }

    /// `fsync` of an open descriptor.
    package static func sync(_ fd: Int32, path: String) throws(BusError) {
        if fsync(fd) != 0 { throw BusError(.io, "cannot fsync \(path)", errno: errno) }
    }

    /// `fsync` of a directory, so that a rename or link into it survives a crash.
    package static func syncDirectory(_ path: String) throws(BusError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw BusError(.io, "cannot open directory \(path)", errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {
            throw BusError(.io, "cannot fsync directory \(path)", errno: errno)
        }
    }

    /// Renames `from` to `to`. Returns `false` when `from` no longer exists (someone else moved it).
    ///
    /// - Parameter uniqueDestination: `to` is a name only this actor can create (a claim name with
    ///   its own worker id, or a done name of the epoch it holds). Then a rename that reports
    ///   `ENOENT` although it happened (a retransmitted NFS request) is recognised by `to` existing
    ///   while `from` does not. For shared destinations that check would be unsound, so `ENOENT`
    ///   always means "someone else got there first".
    package static func moveIfPresent(_ from: String, to: String, uniqueDestination: Bool = false) throws(BusError)
        -> Bool
    {
        // For a unique destination, an existing `to` before the rename means it was settled
        // already (a repeated step): never mistake that for a retransmitted success.
        let existedBefore = uniqueDestination && exists(to)
        if existedBefore { return false }
        if rename(from, to) == 0 { return true }
        let err = errno
        if err == ENOENT {
            return uniqueDestination && exists(to) && !exists(from)
        }
        throw BusError(.io, "cannot rename \(from) to \(to)", errno: err)
    }

    /// `rename(2)`, replacing `to`; `false` with `errno` set on failure.
    package static func renameReplacing(_ from: String, to: String) -> Bool {
        rename(from, to) == 0
    }

    /// `lstat` existence: true for any kind of entry, a dangling symlink included.
    package static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// True when `path` is a directory (following no symlink).
    package static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Removes a file; a missing file is not an error.
    package static func removeFile(_ path: String) {
        _ = unlink(path)
    }

    /// Removes a file or a directory tree (the bus never follows symlinks while doing so).
    package static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? list(path)) ?? [] { removeTree(path + "/" + name) }
            _ = rmdir(path)
        } else {
            _ = unlink(path)
        }
    }

    /// Creates `path` and its missing parents with `mode`.
    /// - Parameter syncParents: fsync the parent of every folder created (durable mode), so a
    ///   power loss cannot drop a new folder whose contents were already made durable.
    package static func makeDirectories(_ path: String, mode: mode_t, syncParents: Bool = false) throws(BusError) {
        if mkdir(path, mode) == 0 {
            if syncParents { try syncDirectory(parentPath(path)) }
            return
        }
        let err = errno
        if err == EEXIST {
            if isDirectory(path) { return }
            throw BusError(.io, "\(path) exists and is not a directory")
        }
        if err == ENOENT {
            let parent = parentPath(path)
            if parent != path && !parent.isEmpty {
                try makeDirectories(parent, mode: mode, syncParents: syncParents)
                if mkdir(path, mode) == 0 {
                    if syncParents { try syncDirectory(parent) }
                    return
                }
                if errno == EEXIST && isDirectory(path) { return }
                throw BusError(.io, "cannot create directory \(path)", errno: errno)
            }
        }
        throw BusError(.io, "cannot create directory \(path)", errno: err)
    }

    /// The names in a directory, `.` and `..` excluded, in directory order.
    package static func list(_ path: String) throws(BusError) -> [String] {
        guard let dir = opendir(path) else {
            throw BusError(errno == ENOENT ? .notFound : .io, "cannot list \(path)", errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { ptr in
                ptr.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }

    /// Reads a whole regular file without following symlinks and without blocking on FIFOs.
    ///
    /// Anything that is not a regular file is reported as ``ReadResult/notRegular(_:)`` with its
    /// kind; a file over `limit` bytes is not read.
    package static func readRegular(_ path: String, limit: Int) -> ReadResult {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if fd < 0 {
            let err = errno
            if err == ENOENT { return .missing }
            if err == ELOOP { return .notRegular("symlink") }
            if err == ENXIO || err == EISDIR { return .notRegular("special file") }
            return .failed(err)
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { return .failed(errno) }
        let type = st.st_mode & S_IFMT
        if type != S_IFREG { return .notRegular(kindName(type)) }
        let size = Int(st.st_size)
        if size > limit { return .tooLarge(size) }
        var buffer = [UInt8](repeating: 0, count: size + 1)
        var total = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                read(fd, raw.baseAddress! + total, raw.count - total)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            if n == 0 { break }
            total += n
            if total == buffer.count {
                if total > limit { return .tooLarge(total) }
                buffer.append(contentsOf: [UInt8](repeating: 0, count: max(4096, buffer.count)))
            }
        }
        buffer.removeSubrange(total...)
        return .bytes(buffer)
    }

    /// The bytes of a regular file from `offset` to its end (nothing is followed or blocked on);
    /// `nil` when it cannot be read.
    package static func readTail(_ path: String, from offset: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(st.st_size)
        guard size > offset else { return [] }
        var buffer = [UInt8](repeating: 0, count: size - offset)
        var total = 0
        while total < buffer.count {
            let n = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + total, raw.count - total, off_t(offset + total))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += n
        }
        buffer.removeSubrange(total...)
        return buffer
    }

    /// Writes `bytes` to a new dot-file in `stagingDirectory` (fsynced when `durable`) and returns
    /// its path; the caller renames it into place or removes it. Nothing is left behind on failure.
    ///
    /// When the staging directory is a bus's `tmp/`, a failure that comes from the bus folder as a
    /// whole (a full or read-only filesystem, a deleted bus) is said as such (``BusError/onBus(_:)``)
    /// of the bus that holds it.
    package static func stage(
        _ bytes: [UInt8], in stagingDirectory: String, mode: mode_t, durable: Bool, purpose: String = "w"
    ) throws(BusError) -> String {
        do throws(BusError) {
            return try stageUnsaid(bytes, in: stagingDirectory, mode: mode, durable: durable, purpose: purpose)
        } catch {
            guard baseName(stagingDirectory) == "tmp" else { throw error }
            throw error.onBus(BusLayout(root: parentPath(stagingDirectory)))
        }
    }

    private static func stageUnsaid(
        _ bytes: [UInt8], in stagingDirectory: String, mode: mode_t, durable: Bool, purpose: String
    ) throws(BusError) -> String {
        let tmp = stagingDirectory + "/" + QueueNames.staging(purpose)
        guard let fd = try createExclusive(tmp, mode: mode) else {
            throw BusError(.io, "staging name collision at \(tmp)")
        }
        do throws(BusError) {
            try writeAll(fd, bytes, path: tmp)
            if durable { try sync(fd, path: tmp) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        do throws(BusError) {
            try closeChecked(fd, path: tmp)
        } catch {
            unlink(tmp)
            throw error
        }
        return tmp
    }

    /// Writes `bytes` to `path` atomically: a dot-file in `stagingDirectory`, then a rename.
    /// `durable` fsyncs the file before the rename and, unless `syncingDirectory` is false (a
    /// caller writing several files into one folder fsyncs it once after the last), the folder
    /// after it.
    package static func writeAtomically(
        _ bytes: [UInt8], to path: String, stagingDirectory: String, mode: mode_t, durable: Bool,
        syncingDirectory: Bool = true
    ) throws(BusError) {
        let tmp = try stage(bytes, in: stagingDirectory, mode: mode, durable: durable)
        if rename(tmp, path) != 0 {
            let err = errno
            unlink(tmp)
            throw BusError(.io, "cannot rename \(tmp) to \(path)", errno: err)
        }
        if durable && syncingDirectory { try syncDirectory(parentPath(path)) }
    }

    /// The directory part of a path.
    package static func parentPath(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last component of a path.
    package static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `count` random hex digits.
    package static func randomHex(_ count: Int) -> String {
        var out = ""
        out.reserveCapacity(count)
        var generator = SystemRandomNumberGenerator()
        var bits: UInt64 = 0
        for i in 0..<count {
            if i % 16 == 0 { bits = generator.next() }
            let digit = UInt8(bits & 0xF)
            out.unicodeScalars.append(Unicode.Scalar(digit < 10 ? 0x30 + digit : 0x57 + digit))
            bits >>= 4
        }
        return out
    }

    private static func kindName(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "directory"
        case S_IFIFO: return "FIFO"
        case S_IFLNK: return "symlink"
        case S_IFSOCK: return "socket"
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        default: return "special file"
        }
    }
}
