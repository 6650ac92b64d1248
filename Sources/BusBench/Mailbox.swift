import Synchronization

/// A queue of values between tasks, with a receive that gives up after a timeout.
///
/// The sender never blocks; one receiver at a time waits on a checked continuation, so a waiting
/// receiver costs nothing until a value arrives.
final class Mailbox<Value: Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Value?, Never>
    }

    private struct State {
        var values: [Value] = []
        var waiter: Waiter?
        var nextID = 0
        /// Receives up to this id have timed out (a late `wait` must not block).
        var expiredThrough = 0
    }

    private let state = Mutex(State())

    /// Delivers `value` to the waiting receiver, or queues it.
    func send(_ value: Value) {
        let waiter = state.withLock { s -> Waiter? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.values.append(value)
            return nil
        }
        waiter?.continuation.resume(returning: value)
    }

    /// The next value, or `nil` when none came within `timeout`.
    func receive(timeout: Duration) async -> Value? {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        return await withTaskGroup(of: Value?.self) { group in
            group.addTask { await self.wait(id: id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self.expire(id: id) }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func wait(id: Int) async -> Value? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Value?? in
                if !s.values.isEmpty { return .some(s.values.removeFirst()) }
                if s.expiredThrough >= id { return .some(nil) }
                s.waiter = Waiter(id: id, continuation: continuation)
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func expire(id: Int) {
        let waiter = state.withLock { s -> Waiter? in
            s.expiredThrough = max(s.expiredThrough, id)
            guard let w = s.waiter, w.id == id else { return nil }
            s.waiter = nil
            return w
        }
        waiter?.continuation.resume(returning: nil)
    }
}
