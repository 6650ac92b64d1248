import Bus

#if canImport(Glibc)
    import Glibc
#endif

/// The raw cost of the system calls the bus makes, with no bus logic around them.
///
/// Every path is built before the clock starts, and the loop does nothing but the calls, checking
/// each result. ``sequence(count:durable:)`` repeats, per envelope, exactly what a publish, a claim
/// and an ack do on their happy path (see `Publisher.write`, `RoleQueue.claim(_:)` and
/// `RoleQueue.ack(_:outputs:)`):
///
/// ```
/// publish  open(tmp, O_CREAT|O_EXCL) write [fsync] close rename(tmp → new/) [fsync new/]
///          write(journal)
/// claim    lstat(cur/…) rename(new/ → cur/) [fsync cur/, fsync new/]
///          open(cur/…) fstat read read close          (the envelope read)
///          open(seen/<id>, O_CREAT|O_EXCL) close      (the duplicate marker)
///          write(journal)
/// ack      lstat(done/…) rename(cur/ → done/<day>/) [fsync done/<day>/]   (an ack without results)
///          write(journal)
/// ```
///
/// (The `lstat` before a claim's or an ack's rename is `FileOps.moveIfPresent` checking that its
/// unique destination does not exist yet.)
/// A directory fsync is open(O_DIRECTORY) + fsync + close, as `FileOps.syncDirectory` does it.
/// Heartbeat rewrites are bus logic and are not part of the floor.
struct SyscallFloor: Sendable {
    /// The phase folder the floor works in.
    let directory: String
    /// The bytes of one envelope as the bus writes it.
    let envelope: [UInt8]
    /// Journal lines as the bus writes them: publish, claim, ack.
    let journalLines: [[UInt8]]
    /// Envelope ids and the claim suffix, so names have the bus's lengths.
    let ids: [String]
    let claimSuffix: String
    let day: String

    /// Runs the per-envelope sequence `count` times, in a fresh folder named after `label`.
    func sequence(count: Int, durable: Bool, label: String) throws(BenchError) -> Rate {
        let root = directory + "/sequence-" + label
        let tmpDir = root + "/tmp"
        let newDir = root + "/new"
        let curDir = root + "/cur"
        let seenDir = root + "/seen"
        let doneDir = root + "/done/" + day
        let journalDir = root + "/journal"
        for dir in [tmpDir, newDir, curDir, seenDir, doneDir, journalDir] { try makeDirectory(dir) }
        let n = min(count, ids.count)
        var tmp: [String] = []
        var new: [String] = []
        var cur: [String] = []
        var seen: [String] = []
        var done: [String] = []
        for i in 0..<n {
            let id = ids[i]
            tmp.append(tmpDir + "/.bench." + String(i) + ".pub")
            new.append(newDir + "/" + id + ".json")
            cur.append(curDir + "/" + id + claimSuffix)
            seen.append(seenDir + "/" + id)
            done.append(doneDir + "/" + id + ".e1.json")
        }
        let producerJournal = try openJournal(journalDir + "/producer.jsonl")
        let consumerJournal = try openJournal(journalDir + "/consumer.jsonl")
        defer {
            close(producerJournal)
            close(consumerJournal)
        }
        var buffer = [UInt8](repeating: 0, count: envelope.count + 1)
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<n {
            // publish
            let fd = try create(tmp[i])
            try writeAll(fd, envelope, tmp[i])
            if durable { try check(fsync(fd), "fsync", tmp[i]) }
            try check(close(fd), "close", tmp[i])
            try check(Glibc.rename(tmp[i], new[i]), "rename", tmp[i])
            if durable { try syncDirectory(newDir) }
            try writeAll(producerJournal, journalLines[0], "journal")
            // claim
            try absent(cur[i])
            try check(Glibc.rename(new[i], cur[i]), "rename", new[i])
            if durable {
                try syncDirectory(curDir)
                try syncDirectory(newDir)
            }
            try readWhole(cur[i], into: &buffer)
            let marker = try create(seen[i])
            try check(close(marker), "close", seen[i])
            try writeAll(consumerJournal, journalLines[1], "journal")
            // ack
            try absent(done[i])
            try check(Glibc.rename(cur[i], done[i]), "rename", cur[i])
            if durable { try syncDirectory(doneDir) }
            try writeAll(consumerJournal, journalLines[2], "journal")
        }
        return Rate(count: n, seconds: (clock.now - start).seconds)
    }

    /// `open(O_CREAT|O_EXCL)` + write 512 bytes + close + rename into another folder; the durable
    /// variant adds fsync of the file before close and of the target folder after the rename.
    func createWriteRename(count: Int, durable: Bool) throws(BenchError) -> Rate {
        let root = directory + "/cwr-" + (durable ? "durable" : "plain")
        try makeDirectory(root + "/tmp")
        try makeDirectory(root + "/dst")
        let bytes = [UInt8](repeating: 0x61, count: 512)
        let tmp = (0..<count).map { root + "/tmp/.t" + String($0) }
        let dst = (0..<count).map { root + "/dst/" + ids[$0 % ids.count] + "." + String($0) }
        let dstDir = root + "/dst"
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<count {
            let fd = try create(tmp[i])
            try writeAll(fd, bytes, tmp[i])
            if durable { try check(fsync(fd), "fsync", tmp[i]) }
            try check(close(fd), "close", tmp[i])
            try check(Glibc.rename(tmp[i], dst[i]), "rename", tmp[i])
            if durable { try syncDirectory(dstDir) }
        }
        return Rate(count: count, seconds: (clock.now - start).seconds)
    }

    /// `open(O_CREAT|O_EXCL)` + close of new names.
    func exclusiveCreate(count: Int) throws(BenchError) -> Rate {
        let root = directory + "/excl"
        try makeDirectory(root)
        let paths = (0..<count).map { root + "/" + ids[$0 % ids.count] + "." + String($0) }
        let clock = ContinuousClock()
        let start = clock.now
        for path in paths {
            let fd = try create(path)
            try check(close(fd), "close", path)
        }
        return Rate(count: count, seconds: (clock.now - start).seconds)
    }

    /// `rename` of existing files from one folder to another (the files are made before the clock
    /// starts).
    func renames(count: Int) throws(BenchError) -> Rate {
        let root = directory + "/rename"
        try makeDirectory(root + "/a")
        try makeDirectory(root + "/b")
        let from = (0..<count).map { root + "/a/" + ids[$0 % ids.count] + "." + String($0) }
        let to = (0..<count).map { root + "/b/" + ids[$0 % ids.count] + "." + String($0) + "@w" }
        for path in from {
            let fd = try create(path)
            try check(close(fd), "close", path)
        }
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<count {
            try check(Glibc.rename(from[i], to[i]), "rename", from[i])
        }
        return Rate(count: count, seconds: (clock.now - start).seconds)
    }

    // MARK: - The calls

    private func create(_ path: String) throws(BenchError) -> Int32 {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw BenchError(.io, "cannot create \(path)", errno: errno) }
        return fd
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], _ what: String) throws(BenchError) {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        if n != bytes.count { throw BenchError(.io, "short write to \(what)", errno: errno) }
    }

    private func readWhole(_ path: String, into buffer: inout [UInt8]) throws(BenchError) {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if fd < 0 { throw BenchError(.io, "cannot open \(path)", errno: errno) }
        var st = stat()
        try check(fstat(fd, &st), "fstat", path)
        var total = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                close(fd)
                throw BenchError(.io, "cannot read \(path)", errno: errno)
            }
            if n == 0 { break }
            total += n
        }
        try check(close(fd), "close", path)
        if total != envelope.count { throw BenchError(.io, "read \(total) bytes of \(path)") }
    }

    /// `lstat` of a path that must not exist.
    private func absent(_ path: String) throws(BenchError) {
        var st = stat()
        if lstat(path, &st) == 0 { throw BenchError(.io, "\(path) exists already") }
    }

    private func syncDirectory(_ path: String) throws(BenchError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw BenchError(.io, "cannot open \(path)", errno: errno) }
        let rc = fsync(fd)
        close(fd)
        try check(rc, "fsync", path)
    }

    private func openJournal(_ path: String) throws(BenchError) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw BenchError(.io, "cannot open \(path)", errno: errno) }
        return fd
    }

    private func makeDirectory(_ path: String) throws(BenchError) {
        do {
            try FileOps.makeDirectories(path, mode: 0o700)
        } catch {
            throw BenchError(.io, error.description)
        }
    }

    private func check(_ rc: Int32, _ call: String, _ path: String) throws(BenchError) {
        if rc != 0 { throw BenchError(.io, "\(call) \(path) failed", errno: errno) }
    }
}
