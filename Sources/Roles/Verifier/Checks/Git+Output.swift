import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

extension Git {
    /// Runs `git -C <directory> <arguments>` with its standard output going to an unnamed file on
    /// disk (``AnonymousFile``), and hands `body` a reader of it.
    ///
    /// Unlike ``run(_:)``, whose output is cut at 1 MiB, nothing is cut here: a large diff or
    /// status is read in full, in chunks, without holding it all in memory. Like ``run(_:)``, git
    /// runs in a process group of its own, killed whole when git ends (not in a session of its own
    /// swept through `/proc` at every end, which cost about 2 ms a run: git waits for the helpers
    /// it runs, and what it leaves running on purpose, such as an fsmonitor daemon, is not the
    /// verifier's to end).
    /// - Throws: ``RoleError`` `git` when git cannot start, times out or fails.
    func withOutput<R>(
        _ arguments: [String], _ body: (inout ChunkedReader) throws(RoleError) -> R
    ) async throws(RoleError) -> R {
        let command = "git " + arguments.joined(separator: " ")
        let out: AnonymousFile
        let err: AnonymousFile
        let child: ChildProcess
        do {
            out = try AnonymousFile(onDisk: true)
            err = try AnonymousFile()
            child = try ChildProcess.spawn(
                ["git", "-C", directory] + arguments, environment: environment, stdout: out.output,
                stderr: err.output, diesWithParent: true, killsGroupOnExit: true)
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
            let said = err.text(limit: 4096).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RoleError(.git, "\(command) in \(directory) \(what): \(said)")
        }
        var reader = ChunkedReader(out)
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

/// Reads a child's captured output in chunks of 1 MiB, and, on top of that, line by line.
struct ChunkedReader {
    private let output: AnonymousFile
    private var offset = 0
    private var pending: [UInt8] = []
    private var start = 0

    init(_ output: AnonymousFile) {
        self.output = output
    }

    /// The next chunk, or `nil` at the end of the output (a read error also ends it).
    mutating func next() -> [UInt8]? {
        let chunk = output.read(from: offset, limit: 1 << 20)
        guard !chunk.isEmpty else { return nil }
        offset += chunk.count
        return chunk
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

}
