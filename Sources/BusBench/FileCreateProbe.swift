import Bus

#if canImport(Glibc)
    import Glibc
#endif

/// What creating a file costs in the scratch directory just before a part of a benchmark, against
/// the same on a memory filesystem (`/dev/shm`) measured at the same moment.
///
/// Every envelope, claim marker, journal and git object is a file created, so when the scratch
/// filesystem is slow to create files for reasons outside planbus, every figure of the part is
/// inflated by it. The case this was made for: ext4 without a journal (these machines' root
/// filesystem) does not reuse an inode freed in the last 60 s, or in the last 6 minutes while its
/// inode table block is not yet written back, and scans past every such inode of the block group
/// at each allocation (`fs/ext4/ialloc.c`, `find_inode_bit` → `recently_deleted`); after a few
/// thousand files were deleted near the scratch directory (a previous run's clean-up), creating
/// one file takes hundreds of microseconds instead of about ten. A journaled ext4 does not do
/// this, nor does a tmpfs.
///
/// The probe creates empty files in a folder of its own, which it leaves in place (deleting them
/// would slow the next part the same way); the scratch directory's removal at the end takes them.
/// The memory files are removed at once.
public struct FileCreateProbe: Sendable {
    /// The part the probe was taken before.
    public var label: String
    /// Microseconds per file created in the scratch directory: the median of three batches.
    public var microseconds: Double
    /// The same on the memory filesystem, or `nil` when there is none.
    public var memoryMicroseconds: Double?

    /// The memory filesystem's folder the reference was taken in, when it was.
    public var memoryFolder: String? { memoryMicroseconds == nil ? nil : BenchDirectory.memoryParent }

    /// Files per batch.
    static let batch = 50
    /// A probe this many times the memory reference or more is slow.
    public static let slowRatio = 10.0

    /// Scratch time / memory time, or `nil` without a reference.
    public var ratio: Double? {
        guard let memoryMicroseconds, memoryMicroseconds > 0 else { return nil }
        return microseconds / memoryMicroseconds
    }

    /// True when creating a file in the scratch directory took at least ``slowRatio`` times as long
    /// as in memory.
    public var isSlow: Bool { (ratio ?? 0) >= Self.slowRatio }

    /// What the report says when the probe is slow.
    public var warning: String? {
        guard isSlow, let ratio, let memoryMicroseconds else { return nil }
        return
            "\(label): creating a file in the scratch directory took \(format(microseconds)) µs, "
            + "\(format(ratio))× the \(format(memoryMicroseconds)) µs in \(BenchDirectory.memoryParent): the "
            + "filesystem was slow to create files (ext4 without a journal is, for minutes after many files near "
            + "the scratch directory were deleted), which inflates this part's figures; run again later"
    }

    /// Measures in `folder` (made when missing; give each probe a fresh one) and in a fresh folder
    /// of `/dev/shm` when that is a tmpfs.
    /// - Throws: ``BenchError`` `io` when the scratch folder or its files cannot be made.
    public static func measure(label: String, in folder: String) throws(BenchError) -> FileCreateProbe {
        do {
            try FileOps.makeDirectories(folder, mode: 0o700)
        } catch {
            throw BenchError(.io, error.description)
        }
        let scratch = try median(in: folder)
        var probe = FileCreateProbe(label: label, microseconds: scratch)
        if let memory = BenchDirectory.onMemoryFilesystem() {
            defer { memory.removeAll() }
            probe.memoryMicroseconds = try? median(in: memory.root)
        }
        return probe
    }

    /// The median of three batches, in microseconds per file.
    private static func median(in folder: String) throws(BenchError) -> Double {
        var batches: [Double] = []
        for round in 0..<3 {
            let clock = ContinuousClock()
            let start = clock.now
            for i in 0..<batch {
                let path = "\(folder)/f\(round)-\(i)"
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                guard fd >= 0 else { throw BenchError(.io, "cannot create \(path)", errno: errno) }
                close(fd)
            }
            batches.append((clock.now - start).seconds * 1_000_000 / Double(batch))
        }
        return batches.sorted()[1]
    }

    /// The probe as JSON.
    public var json: JSONValue {
        [
            "before": .string(label), "scratch_us_per_file": rounded(microseconds, 1),
            "memory_us_per_file": memoryMicroseconds.map { rounded($0, 1) } ?? .null,
            "memory_folder": memoryFolder.map(JSONValue.string) ?? .null,
            "ratio": ratio.map { rounded($0, 2) } ?? .null, "slow": .bool(isSlow),
        ]
    }

    /// One line for the text reports.
    public var text: String {
        var line = "creating a file in the scratch directory before \(label): \(format(microseconds)) µs"
        if let memoryMicroseconds, let ratio {
            line +=
                " (\(format(ratio, 1))× the \(format(memoryMicroseconds)) µs in \(BenchDirectory.memoryParent))"
        } else {
            line += " (no memory filesystem to compare with)"
        }
        return line + (isSlow ? ": SLOW" : "")
    }
}
