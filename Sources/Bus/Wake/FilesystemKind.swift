import CPlanbusShim

#if canImport(Glibc)
    import Glibc
#endif

/// The kind of filesystem a path lives on, from `statfs(2)`'s `f_type`.
public struct FilesystemKind: Sendable, Equatable, CustomStringConvertible {
    /// The raw `f_type` magic number.
    public var magic: Int

    /// A kind from its `f_type` magic number.
    public init(magic: Int) {
        self.magic = magic
    }

    /// `f_type` magics of filesystems where inotify does not see other hosts' changes.
    static let remote: [Int: String] = [
        0x6969: "nfs", 0x517B: "smb", 0xFF53_4D42: "cifs", 0xFE53_4D42: "smb2", 0x6573_5546: "fuse",
        0x00C3_6400: "ceph", 0x0102_1997: "9p", 0x5346_414F: "afs", 0x7461_636F: "ocfs2", 0x4744_4653: "gfs2",
        0x0BD0_0BD0: "lustre",
    ]
    static let local: [Int: String] = [
        0xEF53: "ext4", 0x5846_5342: "xfs", 0x9123_683E: "btrfs", 0x0102_1994: "tmpfs", 0x794C_7630: "overlay",
        0x2FC1_2FC1: "zfs", 0xF2F5_2010: "f2fs",
    ]

    /// The filesystem holding `path`.
    /// - Throws: ``BusError`` `io` when `statfs` fails.
    public static func of(_ path: String) throws(BusError) -> FilesystemKind {
        let magic = planbus_fs_type(path)
        if magic == -1 { throw BusError(.io, "cannot statfs \(path)", errno: errno) }
        return FilesystemKind(magic: Int(UInt32(truncatingIfNeeded: magic)))
    }

    /// True for network and FUSE filesystems, where inotify misses other hosts' writes.
    public var isRemote: Bool { Self.remote[magic] != nil }

    public var description: String {
        Self.remote[magic] ?? Self.local[magic] ?? "0x" + String(magic, radix: 16)
    }
}
