import Synchronization

/// A flag set once, read from any task, with callbacks run when it is set.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    private let callbacks = Mutex<(next: Int, pending: [Int: @Sendable () -> Void])>((0, [:]))

    /// Sets the flag and runs the registered callbacks (once).
    func set() {
        // The flag changes under the lock, so a callback registered concurrently either runs here
        // or sees the flag set and runs at once.
        let pending = callbacks.withLock { c -> [Int: @Sendable () -> Void]? in
            guard !value.exchange(true, ordering: .acquiringAndReleasing) else { return nil }
            let all = c.pending
            c.pending = [:]
            return all
        }
        for callback in pending?.values ?? [:].values { callback() }
    }

    var isSet: Bool { value.load(ordering: .acquiring) }

    /// Runs `callback` when the flag is set (at once when it already is); returns a token for
    /// ``removeCallback(_:)``.
    func onSet(_ callback: @escaping @Sendable () -> Void) -> Int {
        let token = callbacks.withLock { c -> Int? in
            if value.load(ordering: .acquiring) { return nil }
            c.next += 1
            c.pending[c.next] = callback
            return c.next
        }
        guard let token else {
            callback()
            return 0
        }
        return token
    }

    /// Forgets a callback that has not run.
    func removeCallback(_ token: Int) {
        _ = callbacks.withLock { $0.pending.removeValue(forKey: token) }
    }
}

extension StopFlag {
    /// Returns once the wall clock reaches `until`, the flag is set, or the task is cancelled,
    /// whichever comes first. The clock is read again at least every second, so a clock that is
    /// set while waiting moves the end with it.
    func wait(until: Timestamp) async {
        let done = OneShot<Bool>()
        let token = onSet { done.resolve(true) }
        let timer = Task {
            while !Task.isCancelled {
                let left = until.milliseconds - Timestamp.now().milliseconds
                if left <= 0 { break }
                try? await Task.sleep(for: .milliseconds(min(left, 1_000)))
            }
            done.resolve(false)
        }
        await withTaskCancellationHandler {
            _ = await done.value
        } onCancel: {
            done.resolve(true)
        }
        timer.cancel()
        removeCallback(token)
    }
}
