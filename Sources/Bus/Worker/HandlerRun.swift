import Synchronization

/// Runs one handler call against its limits: the envelope timeout, and the stop grace once the
/// worker is asked to stop.
///
/// Whichever comes first decides. A handler that overruns is cancelled and left behind (its claim
/// is settled without it, so its late result is fenced off); while such a handler still runs,
/// ``abandoned`` is non-zero and the worker stops reporting progress, so a supervisor sees it hang.
struct HandlerRun: Sendable {
    let timeout: Duration?
    let stopGrace: Duration
    let stopping: StopFlag
    let abandoned: AbandonedHandlers

    /// What decided the call.
    enum Outcome: Sendable {
        case finished(Disposition)
        case timedOut
        case graceOver
    }

    /// Runs `handler` on `claim` and returns its disposition, or the one its limits impose.
    func run(_ claim: Claim, handler: @escaping EnvelopeHandler) async -> Outcome {
        let decision = OneShot<Outcome>()
        let work = Task {
            let disposition: Disposition
            do {
                disposition = try await handler(claim)
            } catch {
                disposition = .retry("handler error: \(error)")
            }
            // Too late: the claim was settled without this call, which no longer counts as stuck.
            // (Under the decision's lock, so it always follows the `add()` of the limit that won.)
            decision.resolve(.finished(disposition), otherwise: { abandoned.remove() })
        }
        let timer = timeout.map { timeout in
            Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { decision.resolve(.timedOut, then: { abandoned.add() }) }
            }
        }
        let grace = stopGrace
        // The grace timer starts when the worker is asked to stop; once the call is decided, a
        // late timer finds the decision taken and does nothing.
        let token = stopping.onSet {
            Task {
                try? await Task.sleep(for: grace)
                decision.resolve(.graceOver, then: { abandoned.add() })
            }
        }
        let outcome = await decision.value
        timer?.cancel()
        stopping.removeCallback(token)
        if case .finished = outcome { return outcome }
        work.cancel()
        return outcome
    }
}

/// How many handler calls overran their limit and still run; while any does, the heartbeat's
/// progress is held.
final class AbandonedHandlers: Sendable {
    private let count = Mutex(0)
    private let heartbeat: HeartbeatWriter

    init(heartbeat: HeartbeatWriter) {
        self.heartbeat = heartbeat
    }

    func add() {
        count.withLock { n in
            n += 1
            heartbeat.holdProgress(true)
        }
    }

    func remove() {
        count.withLock { n in
            n -= 1
            if n == 0 { heartbeat.holdProgress(false) }
        }
    }
}

/// A value set once; readers wait for it.
final class OneShot<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiters: [CheckedContinuation<Value, Never>])>((nil, []))

    /// Sets the value and runs `then`, or, when it was already set, runs `otherwise`; either runs
    /// under the lock, so the actions of concurrent callers happen in the order of their calls.
    func resolve(_ value: Value, then: () -> Void = {}, otherwise: () -> Void = {}) {
        let waiters = state.withLock { s -> [CheckedContinuation<Value, Never>]? in
            if s.value != nil {
                otherwise()
                return nil
            }
            s.value = value
            then()
            let w = s.waiters
            s.waiters = []
            return w
        }
        for w in waiters ?? [] { w.resume(returning: value) }
    }

    /// The value, once set.
    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { s -> Value? in
                    if let v = s.value { return v }
                    s.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
