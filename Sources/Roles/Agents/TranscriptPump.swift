import Bus
import Foundation
import Processes
import Synchronization

/// Copies what an agent, a step or a gate writes to a private file (outside the bus) into its
/// transcript on the bus, line by line as it arrives, each line passed through a ``Redactor``
/// first: followers of the transcript (`planbus tail`) see the call live, and no credential
/// reaches the bus.
final class TranscriptPump: Sendable {
    /// Where the raw output is written.
    enum Source: Sendable {
        /// A file in a private folder (an agent CLI that writes its transcript to a path).
        case path(String)
        /// An unnamed file (``AnonymousFile``) the child writes as its standard output and error:
        /// nothing named is created or removed on disk.
        case file(AnonymousFile)
    }

    private let source: Source
    private let target: String
    private let redactor: Redactor
    private let state = Mutex(State())

    private struct State {
        var offset = 0
        var pending: [UInt8] = []
        var inPrivateKey = false
    }

    /// - Parameters:
    ///   - source: the file the agent writes.
    ///   - target: the transcript on the bus (appended to).
    init(from source: String, to target: String, redactor: Redactor) {
        self.source = .path(source)
        self.target = target
        self.redactor = redactor
    }

    /// - Parameters:
    ///   - file: the unnamed file the child writes.
    ///   - target: the transcript on the bus (appended to).
    init(from file: AnonymousFile, to target: String, redactor: Redactor) {
        self.source = .file(file)
        self.target = target
        self.redactor = redactor
    }

    /// A new unnamed file on disk (``AnonymousFile``) for a child's raw output: the output may be
    /// large, and reaches the bus only through a pump.
    static func outputFile() throws(RoleError) -> AnonymousFile {
        do {
            return try AnonymousFile(onDisk: true)
        } catch {
            throw RoleError(.io, "cannot make a file for a command's output: \(error)")
        }
    }

    /// Copies whatever complete lines arrived since the last call; with `final`, the rest too.
    func pump(final: Bool = false) {
        state.withLock { state in
            let read: [UInt8]?
            switch source {
            case .path(let path): read = FileOps.readTail(path, from: state.offset)
            case .file(let file): read = file.read(from: state.offset, limit: Int.max)
            }
            guard let bytes = read else { return }
            state.offset += bytes.count
            state.pending += bytes
            var out = ""
            while let newline = state.pending.firstIndex(of: 0x0A) {
                let line = String(decoding: state.pending[..<newline], as: UTF8.self)
                state.pending.removeSubrange(...newline)
                out += redactor.redactLine(line, inPrivateKey: &state.inPrivateKey) + "\n"
            }
            if final, !state.pending.isEmpty {
                let line = String(decoding: state.pending, as: UTF8.self)
                state.pending.removeAll()
                out += redactor.redactLine(line, inPrivateKey: &state.inPrivateKey) + "\n"
            }
            if !out.isEmpty { Self.append(out, to: target) }
        }
    }

    /// Pumps every `interval` while `work` runs, then once more with everything left.
    func whilePumping<T: Sendable>(
        every interval: Duration = .milliseconds(100), _ work: () async throws(RoleError) -> T
    ) async throws(RoleError) -> T {
        let loop = Task {
            while !Task.isCancelled {
                self.pump()
                try? await Task.sleep(for: interval)
            }
        }
        defer {
            loop.cancel()
            pump(final: true)
        }
        return try await work()
    }

    /// Appends `text` to `path`, creating it.
    static func append(_ text: String, to path: String) {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(text.utf8))
    }
}
