import Synchronization

/// How a worker backs off while the bus refuses its writes (a full or read-only filesystem, or
/// any I/O error of the bus itself): the pause doubles with every failure in a row, from
/// ``base`` up to ``cap``, and starts again from ``base`` after a success.
final class BusTrouble: Sendable {
    /// The first pause: `min(2 × poll_ms, 2 s)`.
    let base: Duration
    /// The longest pause: 10 s (or ``base`` when that is longer), so a repaired bus is noticed
    /// within 10 s.
    let cap: Duration
    private let state = Mutex<State>(State())
    private let fatalError = Mutex<BusError?>(nil)

    private struct State {
        var failures = 0
        var problem: BusProblem?
        var lastSaid: BusProblem?
    }

    /// What one failure came to.
    struct Pause: Sendable, Equatable {
        /// How long to wait before trying again.
        var delay: Duration
        /// Failures in a row, this one included.
        var attempt: Int
        /// The problem of the whole bus behind the failure, if it is one.
        var problem: BusProblem?
        /// True when this problem was not the one in force before (worth a louder log line).
        var isNew: Bool

        /// ``delay`` in milliseconds.
        var delayMs: Int64 {
            delay.components.seconds * 1_000 + delay.components.attoseconds / 1_000_000_000_000_000
        }
    }

    init(pollMs: Int) {
        base = .milliseconds(max(1, min(pollMs * 2, 2_000)))
        cap = max(base, .seconds(10))
    }

    /// Counts a failure and returns the pause to make.
    func failed(_ problem: BusProblem?) -> Pause {
        state.withLock { s in
            s.failures += 1
            let isNew = problem != s.lastSaid
            s.problem = problem
            s.lastSaid = problem
            var delay = base
            for _ in 1..<min(s.failures, 16) where delay < cap { delay = delay * 2 }
            return Pause(delay: min(delay, cap), attempt: s.failures, problem: problem, isNew: isNew)
        }
    }

    /// Counts a success; returns how many failures in a row it ends (0 when none) and the problem
    /// they had.
    @discardableResult
    func succeeded() -> (failures: Int, problem: BusProblem?) {
        state.withLock { s in
            defer {
                s.failures = 0
                s.problem = nil
                s.lastSaid = nil
            }
            return (s.failures, s.problem)
        }
    }

    /// Notes a problem seen without a failed write (the janitor's look at the bus); true when it
    /// was not already said.
    func seen(_ problem: BusProblem?) -> Bool {
        state.withLock { s in
            guard problem != s.lastSaid else { return false }
            s.lastSaid = problem
            return problem != nil
        }
    }

    /// Records the error that stops the worker for good (the bus folder is gone); false when one
    /// was recorded already.
    func stopForGood(_ error: BusError) -> Bool {
        fatalError.withLock { f in
            guard f == nil else { return false }
            f = error
            return true
        }
    }

    /// The error that stopped the worker for good, if any.
    var fatal: BusError? { fatalError.withLock { $0 } }
}
