import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Who may use a bus, and the modes every process on it creates files and folders with.
///
/// A private bus (the default) belongs to one Unix user: folders 0700, files 0600. A bus shared by
/// a group (`"group"` in `bus.json`, `planbus init --group NAME`) has folders 02770 (set-group-id,
/// so every entry made inside takes the bus's group) and files 0660. A process that opens a bus
/// adopts its modes for the whole process, umask included (077 for a private bus, 007 for a
/// shared one), so files made by any library in the process follow them too.
public enum BusPermissions {
    private static let shared = Atomic<Bool>(false)
    /// The umask the process had before it first adopted a bus's modes (`UInt32.max`: none yet).
    private static let original = Atomic<UInt32>(.max)

    /// True while this process works on a bus shared by a group.
    public static var groupShared: Bool { shared.load(ordering: .relaxed) }

    /// Mode of folders made on the bus (02770 shared, 0700 private). `mkdir` ignores the
    /// set-group-id bit; a folder made inside a set-group-id folder inherits it.
    public static var directoryMode: mode_t { groupShared ? 0o2770 : 0o700 }

    /// Mode of files made on the bus (0660 shared, 0600 private).
    public static var fileMode: mode_t { groupShared ? 0o660 : 0o600 }

    /// The umask a process working on the bus runs with (007 shared, 077 private).
    public static var processUmask: mode_t { groupShared ? 0o007 : 0o077 }

    /// Makes this process create files and folders as `settings` say: records the sharing and sets
    /// the process umask.
    public static func adopt(_ settings: BusSettings) {
        shared.store(settings.group != nil, ordering: .relaxed)
        let previous = umask(processUmask)
        _ = original.compareExchange(expected: .max, desired: UInt32(previous), ordering: .relaxed)
    }

    /// Runs `body` with the umask the process had before it adopted the bus's modes, then goes
    /// back to the bus's: for the files a command writes into the user's own work tree (`planbus
    /// merge` moving a checked-out branch), which must not become private because the bus is.
    /// The umask is the process's: call this only where nothing else writes meanwhile.
    public static func withUserUmask<T, Failure: Error>(_ body: () async throws(Failure) -> T) async throws(Failure)
        -> T
    {
        let saved = original.load(ordering: .relaxed)
        guard saved != .max else { return try await body() }
        umask(mode_t(saved))
        defer { umask(processUmask) }
        return try await body()
    }

    /// The id of the group `name`.
    /// - Throws: ``BusError`` `invalidBus` when there is no such group.
    public static func groupID(named name: String) throws(BusError) -> gid_t {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        let status = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, let found = result else {
            throw BusError(.invalidBus, "there is no Unix group \"\(name)\" on this host (see groupadd(8))")
        }
        return found.pointee.gr_gid
    }

    /// Checks that this process may give files to the group `name`: it is root, or the group is
    /// its own or one of its supplementary groups.
    /// - Throws: ``BusError`` `invalidBus` for an unknown group, `invalidArgument` for one the
    ///   process is not in.
    public static func checkMembership(_ name: String) throws(BusError) {
        let gid = try groupID(named: name)
        if geteuid() == 0 || getegid() == gid { return }
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        let found = getgroups(count, &groups)
        if found >= 0 && groups.prefix(Int(found)).contains(gid) { return }
        throw BusError(
            .invalidArgument, "you are not a member of the group \"\(name)\" (see `id`; usermod -aG \(name) USER)")
    }

    /// Gives the bus folder at `path` to `group` with mode 03770 (``rootMode``), so that
    /// everything made in it afterwards belongs to the group.
    /// - Throws: ``BusError`` `invalidBus` for an unknown group, `io` when the folder cannot be changed
    ///   (only its owner, and only for a group the owner is in, can).
    public static func shareFolder(_ path: String, group name: String) throws(BusError) {
        let gid = try groupID(named: name)
        if chown(path, uid_t.max, gid) != 0 {
            throw BusError(
                .io, "cannot give \(path) to group \"\(name)\" (the owner must be a member of the group)", errno: errno)
        }
        // Sticky: a member may add entries to the bus root, but only their owner may rename or
        // remove one, so nobody but the bus's owner can replace bus.json (and turn signing off).
        if chmod(path, rootMode) != 0 {
            throw BusError(.io, "cannot set mode 03770 on \(path)", errno: errno)
        }
    }

    /// Mode of the root folder of a bus shared by a group: 03770 (set-group-id and sticky).
    public static let rootMode: mode_t = 0o3770

    /// Mode of the files that say what the bus is (`bus.json`, `VERSION`): 0640 on a bus shared
    /// by a group (the members read them, only the bus's owner changes them), else 0600.
    public static var settingsFileMode: mode_t { groupShared ? 0o640 : 0o600 }

    /// True for a group name of 1 to 64 characters of `[A-Za-z0-9._-]`, not starting with `-`.
    public static func isValidGroupName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && !name.hasPrefix("-")
            && name.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d || $0 == 0x5f
                    || $0 == 0x2e
            }
    }
}
