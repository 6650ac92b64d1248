import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

extension Git {
    /// Runs `git -C <directory> <arguments>` with its standard output going to a temporary file,
    /// and hands `body` a reader of that file; the file is removed afterwards.
    ///
    /// Unlike ``run(_:)``, whose output is cut at 1 MiB, nothing is cut here: a large diff or
    /// status is read in full, in chunks, without holding it all in memory.
    /// - Throws: ``RoleError`` `git` when git cannot start, times out or fails; `io` when the
    ///   output cannot be read.
    func withOutput<R>(
        _ arguments: [String], _ body: (inout ChunkedReader) throws(RoleError) -> R
    ) async throws(RoleError) -> R {
        let base =
            FileManager.default.temporaryDirectory.path + "/planbus-git-\(getpid())-" + UUID().uuidString.prefix(8)
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        let command = "git " + arguments.joined(separator: " ")
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                ["git", "-C", directory] + arguments, environment: environment, stdout: .file(base + ".out"),
                stderr: .file(base + ".err"), newSession: true, diesWithParent: true, killsGroupOnExit: true)
        } catch {
            throw RoleError(.git, "cannot run git: \(error)")
        }
        let outcome = await child.wait(timeout: timeout)
        guard outcome == .ended(.exited(0)) else {
            let what: String
            switch outcome {
            case .ended(let exit): what = "failed (\(exit))"
            case .timedOut: what = "timed out after \(timeout)"
            case .cancelled: what = "was cancelled"
            }
            let said = ChunkedReader.text(of: base + ".err", limit: 4096)
            throw RoleError(.git, "\(command) in \(directory) \(what): \(said)")
        }
        guard var reader = ChunkedReader(path: base + ".out") else {
            throw RoleError(.io, "cannot read the output of \(command)")
        }
        return try body(&reader)
    }

    /// The whole standard output of `git <arguments>`, however long.
    /// - Throws: as ``withOutput(_:_:)``.
    func output(_ arguments: [String]) async throws(RoleError) -> [UInt8] {
        try await withOutput(arguments) { reader in
            var all: [UInt8] = []
            while let chunk = reader.next() { all += chunk }
            return all
        }
    }
}

/// Reads a file in chunks of 1 MiB, and, on top of that, line by line.
struct ChunkedReader {
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var start = 0
    private var ended = false

    init?(path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        self.handle = handle
    }

    /// The next chunk, or `nil` at the end of the file (a read error also ends it).
    mutating func next() -> [UInt8]? {
        guard !ended, let data = try? handle.read(upToCount: 1 << 20), !data.isEmpty else {
            ended = true
            try? handle.close()
            return nil
        }
        return [UInt8](data)
    }

    /// Calls `body` with each line, without its `\n`; the last line need not end with one.
    mutating func forEachLine(_ body: (ArraySlice<UInt8>) -> Void) {
        while let chunk = next() {
            if start > 0 {
                pending.removeFirst(start)
                start = 0
            }
            pending += chunk
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                body(pending[start..<newline])
                start = newline + 1
            }
        }
        if start < pending.count { body(pending[start...]) }
        pending = []
        start = 0
    }

    /// Up to `limit` bytes of a file as text, trimmed; empty when it cannot be read.
    static func text(of path: String, limit: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: limit)) ?? Data()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
