/// Wake-ups for a reader of some bus directories, as an `AsyncSequence` of ``WakeBatch``es.
///
/// In inotify mode, arrivals come from the process's inotify thread, and a full rescan is asked for
/// at start, after an overflow, and every `rescan_ms`. In poll mode (network or FUSE filesystems,
/// or forced with `wake: poll` / `PLANBUS_WAKE=poll`), every batch is a rescan, every `poll_ms`.
/// Events are only hints: a reader must always be correct with rescans alone.
///
/// The timers run inside ``runTimers()``, which the owner runs as a child task.
public final class WakeSource: AsyncSequence, Sendable {
    public typealias Element = WakeBatch

    /// The mode in use: `.inotify` or `.poll`.
    public let mode: WakeMode
    /// Why that mode was chosen, for logs and diagnostics.
    public let modeReason: String
    private let sink = WakeSink()
    private let subscription: Int?
    private let directories: [String]
    private let rescanMs: Int
    private let pollMs: Int

    /// Watches `directories` (flat: no recursion) under the bus at `root`.
    public init(directories: [String], root: String, settings: BusSettings) {
        var mode = settings.wake
        var reason = "forced by settings or PLANBUS_WAKE"
        if mode == .auto {
            do {
                let kind = try FilesystemKind.of(root)
                mode = kind.isRemote ? .poll : .inotify
                reason =
                    kind.isRemote
                    ? "\(kind) filesystem: inotify cannot see other hosts' writes" : "local \(kind) filesystem"
            } catch {
                mode = .poll
                reason = "cannot tell the filesystem type (\(error)): polling to be safe"
            }
        }
        self.mode = mode
        self.modeReason = reason
        self.directories = directories
        self.rescanMs = settings.rescanMs
        self.pollMs = settings.pollMs
        sink.requestRescan("start")
        subscription = mode == .inotify ? InotifyHub.shared.subscribe(directories, sink: sink) : nil
    }

    deinit {
        if let subscription { InotifyHub.shared.unsubscribe(subscription) }
        sink.finish()
    }

    /// Asks for a rescan now (for example after the owner changed something itself).
    public func requestRescan(_ reason: String) {
        sink.requestRescan(reason)
    }

    /// Drives the periodic rescan (inotify mode) or the poll ticks (poll mode) until cancelled.
    public func runTimers() async {
        while !Task.isCancelled {
            // Poll while inotify is off, failed, or has not (yet) watched every directory.
            let polling = mode == .poll || !InotifyHub.shared.isWatching(directories)
            let ms = polling ? pollMs : rescanMs
            do {
                try await Task.sleep(for: .milliseconds(ms))
            } catch {
                return
            }
            sink.requestRescan(polling ? "poll" : "timer")
        }
    }

    /// Ends the sequence: a pending `next()` returns `nil`.
    public func finish() {
        sink.finish()
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(sink: sink, base: sink.stream.makeAsyncIterator())
    }

    /// Waits for the next batch of hints.
    public struct Iterator: AsyncIteratorProtocol {
        let sink: WakeSink
        var base: AsyncStream<Void>.Iterator

        public mutating func next() async -> WakeBatch? {
            while true {
                if let batch = sink.drain() { return batch }
                guard await base.next() != nil else { return sink.drain() }
            }
        }
    }
}
