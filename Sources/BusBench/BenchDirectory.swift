import Bus

#if canImport(Glibc)
    import Glibc
#endif

/// The benchmark's scratch directory: one fresh folder per phase, all removed at the end.
///
/// Nothing is deleted between phases: on an ext4 without a journal, the inode allocator scans past
/// inodes deleted in the last minutes, so deleting one phase's files would slow the next phase's
/// file creation.
struct BenchDirectory: Sendable {
    /// The folder holding every phase's files.
    let root: String

    /// Makes `planbus-bench-XXXXXX` inside `parent` (the system temporary directory by default).
    init(parent: String?) throws(BenchError) {
        let base = parent ?? (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
        var template = Array((base + "/planbus-bench-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw BenchError(.io, "cannot create a scratch directory in \(base)", errno: errno) }
        root = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A fresh, empty folder for one phase.
    func phase(_ name: String) throws(BenchError) -> String {
        let path = root + "/" + name
        FileOps.removeTree(path)
        do {
            try FileOps.makeDirectories(path, mode: 0o700)
        } catch {
            throw BenchError(.io, error.description)
        }
        return path
    }

    /// Removes everything.
    func removeAll() {
        FileOps.removeTree(root)
    }

    /// The memory filesystem's folder: where a part measures without a disk.
    static let memoryParent = "/dev/shm"

    /// A scratch directory in ``memoryParent`` when that is a tmpfs; `nil` otherwise.
    static func onMemoryFilesystem() -> BenchDirectory? {
        guard (try? FilesystemKind.of(memoryParent).description) == "tmpfs" else { return nil }
        return try? BenchDirectory(parent: memoryParent)
    }
}

/// Cheap looks into directories that may hold tens of thousands of names.
enum DirectoryScan {
    /// True when `path` holds at least one name that does not start with a dot. Stops at the first
    /// one, and makes no strings.
    static func hasVisibleEntry(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] }
            if first != 0x2E && first != 0 { return true }
        }
        return false
    }

    /// How many names not starting with a dot `path` holds.
    static func countVisible(_ path: String) -> Int {
        guard let dir = opendir(path) else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] }
            if first != 0x2E && first != 0 { count += 1 }
        }
        return count
    }

    /// How many names the subfolders of `path` hold together (for `done/<day>/`).
    static func countVisibleInSubfolders(_ path: String) -> Int {
        let days = (try? FileOps.list(path)) ?? []
        return days.filter { !$0.hasPrefix(".") }.reduce(0) { $0 + countVisible(path + "/" + $1) }
    }
}

/// The path of the running executable, from `/proc/self/exe`.
func currentExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
