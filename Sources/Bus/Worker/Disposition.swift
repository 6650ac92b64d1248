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
}

/// Handles one claimed envelope. Throwing is the same as ``Disposition/retry(_:)`` with the error.
public typealias EnvelopeHandler = @Sendable (Claim) async throws -> Disposition
