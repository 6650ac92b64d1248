import CInotifyTools
import Foundation
import Synchronization

/// The process's one libinotifytools user.
///
/// libinotifytools keeps its inotify descriptor, watch tables and event buffer in static storage
/// and is not thread-safe, so every call to it happens on one dedicated thread, started on first
/// use. That thread copies each event into a ``WakeSink`` and never blocks on a reader.
/// `inotifytools_next_events` takes whole seconds (0 would block forever), so the thread wakes at
/// least once a second to add requested watches.
final class InotifyHub: Sendable {
    static let shared = InotifyHub()

    private struct Subscriber {
        var directories: Set<String>
        var sink: WakeSink
    }

    private struct State {
        var started = false
        var failed: String?
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var pendingWatches: [String] = []
        var watched: [Int32: String] = [:]
        var watchedPaths: Set<String> = []
    }

    private let state = Mutex(State())
    private static let mask = Int32(IN_MOVED_TO | IN_CREATE | IN_ONLYDIR | IN_DELETE_SELF | IN_MOVE_SELF)

    /// Why inotify could not start, if it could not.
    var failure: String? { state.withLock { $0.failed } }

    /// True when every one of `directories` has a watch in place. A directory that cannot be
    /// watched (a full `max_user_watches`, a missing folder) makes its readers poll instead.
    func isWatching(_ directories: [String]) -> Bool {
        state.withLock { s in s.failed == nil && directories.allSatisfy { s.watchedPaths.contains($0) } }
    }

    /// Watches `directories` for arrivals on behalf of `sink`; the sink gets a rescan request once
    /// the watches are in place.
    func subscribe(_ directories: [String], sink: WakeSink) -> Int {
        let (id, start) = state.withLock { s -> (Int, Bool) in
            let id = s.nextID
            s.nextID += 1
            s.subscribers[id] = Subscriber(directories: Set(directories), sink: sink)
            for dir in directories where !s.watchedPaths.contains(dir) { s.pendingWatches.append(dir) }
            let start = !s.started
            s.started = true
            return (id, start)
        }
        if start {
            let thread = Thread { [self] in self.loop() }
            thread.name = "planbus-inotify"
            thread.start()
        }
        return id
    }

    /// Stops delivering to a subscriber. Watches stay (they are cheap and may be shared).
    func unsubscribe(_ id: Int) {
        state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
    }

    private func loop() {
        if inotifytools_initialize() == 0 {
            let message = "inotifytools_initialize failed: \(String(cString: strerror(inotifytools_error())))"
            let sinks = state.withLock { s -> [WakeSink] in
                s.failed = message
                return s.subscribers.values.map(\.sink)
            }
            for sink in sinks { sink.requestRescan("inotify-failed") }
            return
        }
        while true {
            addPendingWatches()
            guard let event = inotifytools_next_events(1, 1) else { continue }
            let wd = event.pointee.wd
            let mask = event.pointee.mask
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                let sinks = state.withLock { $0.subscribers.values.map(\.sink) }
                for sink in sinks { sink.requestRescan("overflow") }
                continue
            }
            if mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                // The directory went away, was moved, or was replaced: watch the path again when it
                // is back, and until then `isWatching` is false, so readers poll. A moved directory
                // keeps its kernel watch, so remove it. libinotifytools keeps a deleted watch in its
                // table and would answer a lookup of the path with it, so rename that entry.
                if mask & UInt32(IN_MOVE_SELF) != 0 { _ = inotifytools_remove_watch_by_wd(wd) }
                inotifytools_set_filename_by_wd(wd, "/nonexistent/planbus-stale-watch-\(wd)")
                let sinks = state.withLock { s -> [WakeSink] in
                    guard let path = s.watched.removeValue(forKey: wd) else { return [] }
                    s.watchedPaths.remove(path)
                    s.pendingWatches.append(path)
                    return s.subscribers.values.filter { $0.directories.contains(path) }.map(\.sink)
                }
                for sink in sinks { sink.requestRescan("watch-lost") }
                continue
            }
            let name = String(cString: planbus_inotify_event_name(event))
            if name.isEmpty || name.hasPrefix(".") { continue }
            let targets = state.withLock { s -> (String, [WakeSink])? in
                guard let dir = s.watched[wd] else { return nil }
                return (dir, s.subscribers.values.filter { $0.directories.contains(dir) }.map(\.sink))
            }
            if let (dir, sinks) = targets {
                for sink in sinks { sink.add(name: name, in: dir) }
            }
        }
    }

    private func addPendingWatches() {
        let pending = state.withLock { s -> [String] in
            let p = s.pendingWatches
            s.pendingWatches = []
            return p
        }
        guard !pending.isEmpty else { return }
        var added: [(Int32, String)] = []
        var retry: [String] = []
        for path in Set(pending) {
            if inotifytools_watch_file(path, Self.mask) != 0 {
                var wd = inotifytools_wd_from_filename(path)
                if wd < 0 { wd = inotifytools_wd_from_filename(path + "/") }
                if wd >= 0 { added.append((wd, path)) } else { retry.append(path) }
            } else {
                retry.append(path)
            }
        }
        let sinks = state.withLock { s -> [WakeSink] in
            for (wd, path) in added {
                s.watched[wd] = path
                s.watchedPaths.insert(path)
            }
            s.pendingWatches.append(contentsOf: retry)
            let addedPaths = Set(added.map(\.1))
            return s.subscribers.values.filter { !$0.directories.isDisjoint(with: addedPaths) }.map(\.sink)
        }
        // Anything that arrived before the watch existed is found by this rescan.
        for sink in sinks { sink.requestRescan("watch-added") }
    }
}
