extension RoleQueue {
    /// The largest delay a `retry/` name can carry: nine digits of milliseconds (about 11.5 days).
    public static let maxRetryDelayMs = 999_999_999

    /// Hands a claim back unprocessed, to be taken again at or after `until`: "not now", not a
    /// failed delivery.
    ///
    /// The claim moves to `retry/<id>.e<N>.d<ms>.json`, where `<ms>` is the time left until
    /// `until` (at least 0, at most ``maxRetryDelayMs``), so the janitors' retry promotion hands
    /// it back after that delay. The journal records a `release` with `not_before` = `until`, which
    /// ``nack(_:reason:)`` and the claim-time check do not count as an attempt.
    /// - Throws: ``BusError`` `fenced` when the claim was taken over.
    public func deferClaim(_ claim: Claim, until: Timestamp, reason: String) throws(BusError) {
        let now = Timestamp.now()
        let delay = Int(max(0, min(until.milliseconds - now.milliseconds, Int64(Self.maxRetryDelayMs))))
        try handBack(
            claim, into: layout.retry(role),
            name: QueueNames.retry(id: claim.envelope.id, epoch: claim.epoch, delayMs: delay), event: .release,
            reason: reason, notBefore: until.milliseconds)
    }

    /// How many of the deliveries of `envelope` before `epoch` were handed back unprocessed in
    /// this role's queue: the distinct epochs of its `release` events in the run's journal.
    func handBacks(of envelope: Envelope, before epoch: Int) -> Int {
        JournalReader(layout: layout).releasedEpochs(id: envelope.id, role: role, run: envelope.run)
            .filter { $0 < epoch }.count
    }

    /// The reason of a claim-time dead letter for an envelope out of attempts.
    func attemptsText(previous: Int, releases: Int) -> String {
        let max = bus.settings.maxAttempts
        if releases == 0 { return "delivered \(previous) times without an ack (max_attempts \(max))" }
        return "delivered \(previous) times without an ack, \(previous - releases) of them failed and "
            + "\(releases) handed back (max_attempts \(max))"
    }
}
