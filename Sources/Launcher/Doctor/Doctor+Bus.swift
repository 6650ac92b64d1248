import Bus
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Doctor {
    // MARK: Bus

    /// Checks that the bus exists, opens, and takes a create, write, fsync, rename and remove in
    /// `tmp/`, and that its folders are writable.
    package func bus(_ path: String) -> DoctorCheck {
        let name = "bus"
        guard FileOps.exists(path) else {
            return .failure(name, "there is no bus at \(path)", fix: "planbus init \(path)")
        }
        do {
            _ = try Bus.open(at: path)
        } catch {
            let fix =
                error.code == .invalidBus && FileOps.exists(BusLayout(root: path).versionFile)
                ? "correct the file the message names (docs/PROTOCOL.md describes bus.json)"
                : "planbus init \(path) (on an empty folder), or point --bus at the bus"
            return .failure(name, error.description, fix: fix)
        }
        let layout = BusLayout(root: path)
        var folders = [layout.tmp, layout.ctl, layout.work, layout.heartbeats, layout.queues, layout.runs]
        for role in ((try? FileOps.list(layout.queues)) ?? []).sorted() where !role.hasPrefix(".") {
            folders += BusLayout.queueFolders.map { layout.queue(role) + "/" + $0 } + [layout.heartbeats(role)]
        }
        let locked = folders.filter { FileOps.isDirectory($0) && access($0, W_OK | X_OK) != 0 }
        let owner = "sudo chown -R \(getuid()):\(getgid()) \(path) && chmod -R u+rwX \(path)"
        if !locked.isEmpty {
            let list =
                locked.prefix(3).joined(separator: ", ") + (locked.count > 3 ? " and \(locked.count - 3) more" : "")
            return .failure(
                name, "\(locked.count) bus folders are not writable by uid \(getuid()): \(list)", fix: owner)
        }
        let started = ContinuousClock.now
        do throws(BusError) {
            try Self.writeCycle(in: layout.tmp)
        } catch {
            let fix: String
            switch error.errno {
            case EACCES, EPERM: fix = owner
            case EROFS:
                fix = "the filesystem is read-only: remount it read-write (mount -o remount,rw), or move the bus"
            case ENOSPC, EDQUOT: fix = "free space (or raise the quota) on the filesystem holding \(path)"
            case ENOTDIR, ENOENT: fix = "move \(layout.tmp) away if it is not a folder, then planbus init \(path)"
            default: fix = "check the filesystem holding \(path) (mount; dmesg | tail)"
            }
            return .failure(name, "a test write in \(layout.tmp) failed: \(error.description)", fix: fix)
        }
        let elapsed = (ContinuousClock.now - started).components
        let ms = ((Double(elapsed.seconds) * 1_000 + Double(elapsed.attoseconds) / 1e15) * 10).rounded() / 10
        return .ok(
            name, "\(path) is a v1 bus; a file was created, written, fsynced, renamed and removed in tmp/ in \(ms) ms")
    }

    /// Creates, writes, fsyncs, renames and removes a staging file in `folder` (which the janitor
    /// cleans up should this process die half-way).
    static func writeCycle(in folder: String) throws(BusError) {
        let first = folder + "/" + QueueNames.staging("doctor")
        let second = folder + "/" + QueueNames.staging("doctor")
        guard let fd = try FileOps.createExclusive(first, mode: Bus.fileMode) else {
            throw BusError(.io, "\(first) exists already")
        }
        do throws(BusError) {
            try FileOps.writeAll(fd, Array("planbus doctor\n".utf8), path: first)
            try FileOps.sync(fd, path: first)
        } catch {
            close(fd)
            FileOps.removeFile(first)
            throw error
        }
        do throws(BusError) {
            try FileOps.closeChecked(fd, path: first)
        } catch {
            FileOps.removeFile(first)
            throw error
        }
        guard FileOps.renameReplacing(first, to: second) else {
            let code = errno
            FileOps.removeFile(first)
            throw BusError(.io, "cannot rename \(first) to \(second)", errno: code)
        }
        guard unlink(second) == 0 else { throw BusError(.io, "cannot remove \(second)", errno: errno) }
        try FileOps.syncDirectory(folder)
    }

    /// The free space on the bus's filesystem (or, when the bus does not exist yet, its parent's).
    package func diskSpace(_ path: String) -> DoctorCheck {
        let target = Self.nearestExisting(path)
        var st = statvfs()
        guard statvfs(target, &st) == 0 else {
            let detail = "cannot statvfs \(target): \(String(cString: strerror(errno)))"
            return .warning("disk space", detail, fix: "make \(target) reachable by this user")
        }
        let unit = UInt64(st.f_frsize == 0 ? st.f_bsize : st.f_frsize)
        return Self.diskSpaceCheck(
            path: target, available: UInt64(st.f_bavail) * unit, total: UInt64(st.f_blocks) * unit)
    }

    /// The smallest free space that is not a warning.
    static let minimumFreeBytes: UInt64 = 1 << 30

    /// Judges free space: a warning below ``minimumFreeBytes``.
    package static func diskSpaceCheck(path: String, available: UInt64, total: UInt64) -> DoctorCheck {
        let percent = total == 0 ? 0 : available * 100 / total
        let detail = "\(gibibytes(available)) free of \(gibibytes(total)) (\(percent) %) on the filesystem of \(path)"
        guard available < minimumFreeBytes else { return .ok("disk space", detail) }
        return .warning(
            "disk space", detail + ": below 1 GiB, a full disk fails every publish and ack",
            fix: "free space on that filesystem (df -h \(path); du -sh \(path)/*), or move the bus to a larger one")
    }

    static func gibibytes(_ bytes: UInt64) -> String {
        "\((Double(bytes) / Double(1 << 30) * 10).rounded() / 10) GiB"
    }
}
