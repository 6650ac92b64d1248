/// The point in a handler's work from which its worker may claim the next envelope while the
/// handler finishes the one it holds (``BusWorker/Options/overlap``).
///
/// The worker opens a gate for each envelope it hands a handler, bound to the handler's task
/// (``current``); the handler opens it with ``BusWorker/allowNextClaim()``, and the worker opens
/// it itself when the handler's work is over.
final class NextClaimGate: Sendable {
    /// The gate of the envelope the current task handles, in a worker with overlap.
    @TaskLocal static var current: NextClaimGate?

    private let opened = OneShot<Bool>()

    /// Lets the worker claim its next envelope; later calls do nothing.
    func open() {
        opened.resolve(true)
    }

    /// Returns once the gate is open.
    func wait() async {
        _ = await opened.value
    }
}
