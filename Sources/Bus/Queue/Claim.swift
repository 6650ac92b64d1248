/// An envelope this worker holds, at one epoch.
///
/// The claim's path, `cur/<id>.e<N>@<worker>.json`, is both the receipt and the fencing token: ack,
/// nack and dead-letter are renames of that exact path, so once someone else has taken the
/// envelope over, every later step of this holder fails with ``BusError/Code/fenced`` and changes
/// nothing.
public struct Claim: Sendable, Equatable {
    /// The envelope, as read and validated after the claim.
    public var envelope: Envelope
    /// The role queue it was claimed from.
    public var role: String
    /// The delivery number: 1 for the first claim, +1 for each retry or take-over.
    public var epoch: Int
    /// The claim file.
    public var path: String
    /// The holder.
    public var worker: WorkerID

    /// The epoch-scoped folder for results staged before the ack.
    public func workDirectory(in layout: BusLayout) -> String {
        layout.workDirectory(role: role, id: envelope.id, epoch: epoch)
    }
}
