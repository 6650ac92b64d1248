import Synchronization

/// What a wake-up asks a reader to look at: names that arrived, or everything (a rescan).
public struct WakeBatch: Sendable, Equatable {
    /// Names that arrived, per watched directory.
    public var names: [String: [String]]
    /// Re-list every watched directory: at start, after an overflow, on the periodic timer, and
    /// on every poll tick.
    public var rescan: Bool
    /// Why a rescan was asked for (`start`, `overflow`, `timer`, `poll`, `watch-added`).
    public var reasons: Set<String>

    /// Creates a batch.
    public init(names: [String: [String]] = [:], rescan: Bool = false, reasons: Set<String> = []) {
        self.names = names
        self.rescan = rescan
        self.reasons = reasons
    }
}

/// Collects wake hints for one reader and coalesces them until the reader asks for the next batch.
///
/// Producers (the inotify thread, timers) never block: names go into a bounded set, and when it is
/// full the sink degrades to a rescan, so no hint is ever lost.
final class WakeSink: Sendable {
    private struct State {
        var names: [String: [String]] = [:]
        var count = 0
        var rescan = false
        var reasons: Set<String> = []
    }

    private let state = Mutex(State())
    private let signal: AsyncStream<Void>.Continuation
    let stream: AsyncStream<Void>
    static let maxPendingNames = 65_536

    init() {
        (stream, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func add(name: String, in directory: String) {
        state.withLock { s in
            guard !s.rescan else { return }
            if s.count >= Self.maxPendingNames {
                s.names = [:]
                s.count = 0
                s.rescan = true
                s.reasons.insert("backlog")
                return
            }
            s.names[directory, default: []].append(name)
            s.count += 1
        }
        signal.yield()
    }

    func requestRescan(_ reason: String) {
        state.withLock { s in
            s.rescan = true
            s.reasons.insert(reason)
            s.names = [:]
            s.count = 0
        }
        signal.yield()
    }

    func finish() {
        signal.finish()
    }

    /// Takes what has accumulated; `nil` when nothing has.
    func drain() -> WakeBatch? {
        state.withLock { s in
            guard s.rescan || s.count > 0 else { return nil }
            let batch = WakeBatch(names: s.names, rescan: s.rescan, reasons: s.reasons)
            s.names = [:]
            s.count = 0
            s.rescan = false
            s.reasons = []
            return batch
        }
    }
}
