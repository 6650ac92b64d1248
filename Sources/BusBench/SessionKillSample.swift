import Bus

/// One SIGKILL of a working role and what followed, in seconds from the kill.
public struct SessionKillSample: Sendable {
    /// Until `state.json` shows a new pid for the instance.
    public var respawn: Double?
    /// Until the replacement's claim of the envelope at epoch 2 left its marker.
    public var reclaim: Double?
    /// Until the envelope was in `done/`.
    public var done: Double
    /// The epoch the journal's last ack of the envelope carries.
    public var ackEpoch: Int?
    /// The reason the journal's `expire` event gives for releasing the killed holder's claim.
    public var expireReason: String?

    var json: JSONValue {
        [
            "respawn_ms": respawn.map { rounded($0 * 1000, 1) } ?? .null,
            "reclaim_ms": reclaim.map { rounded($0 * 1000, 1) } ?? .null, "done_ms": rounded(done * 1000, 1),
            "ack_epoch": ackEpoch.map { .number(Double($0)) } ?? .null,
            "expire_reason": expireReason.map(JSONValue.string) ?? .null,
        ]
    }
}
