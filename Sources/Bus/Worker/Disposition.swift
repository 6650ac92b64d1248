/// What a handler decided about a claimed envelope.
public enum Disposition: Sendable, Equatable {
    /// Done: commit the claim, then publish these results.
    case ack([Envelope])
    /// Failed for now: retry later with backoff (dead-lettered after `max_attempts`).
    case retry(String)
    /// Can never succeed: dead-letter now with this reason.
    case dead(String)
    /// Hand back unprocessed, for another worker (this one is stopping).
    case release(String)
    /// Not now: hand the envelope back unprocessed, to be taken again at or after `until` (a rate
    /// or usage limit that resets then, say). Not a failed delivery: it does not count towards
    /// `max_attempts`. The worker then claims nothing more until `until` (see
    /// ``BusWorker/backoff(until:reason:)``), since it would hit the same limit.
    case `defer`(until: Timestamp, reason: String)
}

/// Handles one claimed envelope. Throwing is the same as ``Disposition/retry(_:)`` with the error.
public typealias EnvelopeHandler = @Sendable (Claim) async throws -> Disposition
