#if canImport(Glibc)
    import Glibc
#endif

/// Something wrong with the bus folder as a whole, rather than with one file in it: no write can
/// succeed until a person (or time) repairs it.
///
/// Workers back off while one lasts (docs/PROTOCOL.md, section 7), a supervisor neither judges its
/// roles hung nor re-spawns them (and stops for good when the folder is gone), and a CLI command
/// fails with exit code 4 (bus unavailable).
public enum BusProblem: String, Sendable, Equatable, CaseIterable {
    /// The filesystem has no space (or no inodes, or no quota) left: `ENOSPC`, `EDQUOT`.
    case full
    /// The filesystem is mounted read-only: `EROFS`.
    case readOnly = "read-only"
    /// The bus folder (its `VERSION` file) is gone: it was deleted while in use.
    case missing

    /// The problem an `errno` stands for, if it stands for one of the whole filesystem.
    public init?(errno: Int32) {
        switch errno {
        case ENOSPC, EDQUOT: self = .full
        case EROFS: self = .readOnly
        default: return nil
        }
    }

    /// What is wrong, naming the bus folder `root`.
    public func headline(root: String) -> String {
        switch self {
        case .full: return "no space left on the bus's filesystem (\(root))"
        case .readOnly: return "the bus's filesystem is read-only (\(root))"
        case .missing: return "the bus folder \(root) is gone (it was deleted while in use)"
        }
    }

    /// What a person can do about it.
    public func advice(root: String) -> String {
        switch self {
        case .full: return "free space on it; waiting work goes on by itself once writes succeed again"
        case .readOnly: return "remount it read-write; waiting work goes on by itself once writes succeed again"
        case .missing: return "create it again with `planbus init`, then start the roles again (planbus up)"
        }
    }

    /// The problem the bus at `layout` has now, `nil` when none is seen.
    ///
    /// Two system calls: `lstat` of `VERSION` (missing) and `statvfs` of the bus folder (a
    /// read-only mount; no free blocks or no free inodes left to the caller). Cheap enough for a
    /// supervisor to call on every tick. A full filesystem is judged as the caller sees it: root
    /// may still write into the blocks reserved for it.
    public static func check(_ layout: BusLayout) -> BusProblem? {
        if !FileOps.exists(layout.versionFile) { return .missing }
        var fs = statvfs()
        guard statvfs(layout.root, &fs) == 0 else { return FileOps.exists(layout.root) ? nil : .missing }
        if fs.f_flag & UInt(ST_RDONLY) != 0 { return .readOnly }
        let root = geteuid() == 0
        let blocksLeft = root ? fs.f_bfree : fs.f_bavail
        let inodesLeft = root ? fs.f_ffree : fs.f_favail
        // A filesystem without an inode count (f_files 0) never runs out of inodes.
        if blocksLeft == 0 || (fs.f_files > 0 && inodesLeft == 0) { return .full }
        return nil
    }
}
