import Synchronization

/// The point in a handler's work from which its worker may claim the next envelope while the
/// handler finishes the one it holds (``BusWorker/Options/overlap``).
///
/// The worker opens a gate for each envelope it hands a handler, bound to the handler's task
/// (``current``); the handler opens it with ``BusWorker/allowNextClaim()``, and the worker opens
/// it itself when the envelope is settled (``settle()``).
final class NextClaimGate: Sendable {
    /// The gate of the envelope the current task handles, in a worker with overlap.
    @TaskLocal static var current: NextClaimGate?

    private let opened = OneShot<Bool>()
    /// Whether the envelope is settled, and what to run once it is.
    private let state = Mutex<(settled: Bool, then: (@Sendable () -> Void)?)>((false, nil))

    /// Lets the worker claim its next envelope; later calls do nothing.
    func open() {
        opened.resolve(true)
    }

    /// Returns once the gate is open.
    func wait() async {
        _ = await opened.value
    }

    /// The envelope is settled: opens the gate, and runs what ``whenSettled(_:)`` asked for.
    func settle() {
        open()
        let then = state.withLock { s -> (@Sendable () -> Void)? in
            s.settled = true
            defer { s.then = nil }
            return s.then
        }
        then?()
    }

    /// Asks for `action` to run once the envelope is settled (replacing an earlier request).
    /// - Returns: false, and nothing asked, when it already is.
    func whenSettled(_ action: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { s in
            if s.settled { return false }
            s.then = action
            return true
        }
    }
}
