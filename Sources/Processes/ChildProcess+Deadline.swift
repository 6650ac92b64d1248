#if canImport(Glibc)
    import Glibc
#endif

/// How a child process waited for with a deadline ended.
public enum DeadlineOutcome: Sendable, Equatable {
    /// It ended by itself.
    case ended(ChildProcess.Exit)
    /// It outlived its deadline and was killed.
    case timedOut
    /// The waiting task was cancelled, and the child was killed.
    case cancelled
}

extension ChildProcess {
    /// Waits for the child to end, at most `timeout`.
    ///
    /// At the deadline, or when the calling task is cancelled, the child's whole process group is
    /// SIGKILLed; either way this returns only once the child has been reaped, so nothing it ran
    /// in its group is left behind (with `killsGroupOnExit`).
    /// - Parameter timeout: The longest the child may run.
    /// - Returns: How it ended.
    public func wait(timeout: Duration) async -> DeadlineOutcome {
        await withTaskGroup(of: DeadlineOutcome.self) { group in
            group.addTask { .ended(await self.wait()) }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            if case .ended = first {
                group.cancelAll()
                return first
            }
            sendToGroup(SIGKILL)
            // The waiting task cannot be cancelled: it ends once the child is reaped.
            var outcome = first
            while let next = await group.next() {
                // Ended on its own just before the kill: report that, not a timeout.
                if case .ended(let exit) = next, exit != .signaled(SIGKILL) { outcome = next }
            }
            return outcome
        }
    }
}

extension DeadlineOutcome {
    /// How the child ended, or `nil` when it was killed at the deadline or on cancellation.
    public var exit: ChildProcess.Exit? {
        if case .ended(let exit) = self { return exit }
        return nil
    }
}
