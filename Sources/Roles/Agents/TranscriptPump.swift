import Bus
import Foundation
import Synchronization

/// Copies what an agent writes to a private file (outside the bus) into its transcript on the
/// bus, line by line as it arrives, each line passed through a ``Redactor`` first: followers of
/// the transcript (`planbus tail`) see the call live, and no credential reaches the bus.
final class TranscriptPump: Sendable {
    private let source: String
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
        self.source = source
        self.target = target
        self.redactor = redactor
    }

    /// Copies whatever complete lines arrived since the last call; with `final`, the rest too.
    func pump(final: Bool = false) {
        state.withLock { state in
            guard let bytes = FileOps.readTail(source, from: state.offset) else { return }
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
