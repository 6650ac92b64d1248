import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Real mounts for tests of a full or read-only bus: a small tmpfs, a read-only bind mount of a
/// folder onto itself. Needs `CAP_SYS_ADMIN` (root outside a restricted container); tests check
/// ``isPermitted`` and are skipped where it is false.
public enum TestMount {
    /// True when this process may mount (it tries a 64 KiB tmpfs once, and unmounts it).
    public static let isPermitted: Bool = {
        let dir = FileManager.default.temporaryDirectory.path + "/planbus-mount-probe-" + UUID().uuidString.prefix(8)
        guard mkdir(dir, 0o700) == 0 else { return false }
        defer { rmdir(dir) }
        guard mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0 else { return false }
        return umount2(dir, 0) == 0
    }()

    /// Mounts a tmpfs of `size` (`"4m"`) with at most `inodes` files and folders on `path`.
    public static func tmpfs(at path: String, size: String, inodes: Int) throws {
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(size),nr_inodes=\(inodes),mode=0700") == 0 else {
            throw FixtureError("cannot mount a tmpfs on \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Bind-mounts `path` onto itself, read-only.
    public static func bindReadOnly(_ path: String) throws {
        guard mount(path, path, nil, UInt(MS_BIND), nil) == 0 else {
            throw FixtureError("cannot bind-mount \(path): \(String(cString: strerror(errno)))")
        }
        guard mount(nil, path, nil, UInt(MS_REMOUNT | MS_BIND | MS_RDONLY), nil) == 0 else {
            let err = errno
            unmount(path)
            throw FixtureError("cannot remount \(path) read-only: \(String(cString: strerror(err)))")
        }
    }

    /// Remounts the bind mount on `path` read-write.
    public static func remountWritable(_ path: String) throws {
        guard mount(nil, path, nil, UInt(MS_REMOUNT | MS_BIND), nil) == 0 else {
            throw FixtureError("cannot remount \(path) read-write: \(String(cString: strerror(errno)))")
        }
    }

    /// Unmounts whatever is mounted on `path` (lazily: processes that still hold files there keep
    /// them); false when nothing was.
    @discardableResult
    public static func unmount(_ path: String) -> Bool {
        umount2(path, Int32(MNT_DETACH)) == 0
    }

    /// Fills the filesystem holding `folder` until it refuses with `ENOSPC`: a file `filler`
    /// written to the last block, then empty files `filler.<n>` until no inode is left. Returns
    /// the paths written (``release(_:)`` removes them).
    public static func fill(_ folder: String) throws -> [String] {
        let filler = folder + "/filler"
        var made = [filler]
        let fd = open(filler, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FixtureError("cannot create \(filler): \(String(cString: strerror(errno)))") }
        let chunk = [UInt8](repeating: 0x2E, count: 4096)
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n > 0 { continue }
            let err = errno
            if n < 0 && err == EINTR { continue }
            close(fd)
            guard err == ENOSPC else {
                throw FixtureError("filling \(filler) stopped with \(String(cString: strerror(err))), not ENOSPC")
            }
            break
        }
        var i = 0
        while true {
            let path = filler + ".\(i)"
            let f = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            if f < 0 {
                guard errno == ENOSPC else {
                    throw FixtureError("creating \(path) failed with \(String(cString: strerror(errno))), not ENOSPC")
                }
                break
            }
            close(f)
            made.append(path)
            i += 1
        }
        return made
    }

    /// Removes the files ``fill(_:)`` wrote, giving the space back.
    public static func release(_ paths: [String]) {
        for path in paths { unlink(path) }
    }
}

/// User plus system CPU time of `pid` so far, in clock ticks (`/proc/<pid>/stat` fields 14 and
/// 15; `sysconf(_SC_CLK_TCK)` ticks a second); `nil` when there is no such process.
public func processCPUTicks(_ pid: Int32) -> Int? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    // After ')' come field 3 (state) onwards: utime is field 14, so index 11.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
    return user + system
}
