import Bus

/// One SIGKILL of the chaos run: whom it hit, when, and the claims the process held.
public struct ChaosKill: Sendable, Equatable {
    /// A claim the killed process held: the envelope, its queue and the epoch it was claimed at.
    public struct Claim: Sendable, Equatable, Hashable {
        public var id: String
        public var role: String
        public var epoch: Int
    }

    /// The role of the killed process, or `supervisor` for `planbus up` itself.
    public var role: String
    /// The instance number, for a role process.
    public var instance: Int?
    /// The killed pid.
    public var pid: Int32
    /// When the signal was sent (wall clock, as the journal's times).
    public var time: Timestamp
    /// The claims in `cur/` held by the process (for the supervisor: by its role processes),
    /// listed while they were stopped, just before the kill.
    public var held: [Claim]

    /// The role the supervisor's kill is counted under.
    public static let supervisor = "supervisor"

    /// `{role, instance, pid, t, held: [{id, role, epoch}]}`.
    public var json: JSONValue {
        [
            "role": .string(role), "instance": instance.map { .number(Double($0)) } ?? .null,
            "pid": .number(Double(pid)), "t": .string(time.description),
            "held": .array(
                held.map { ["id": .string($0.id), "role": .string($0.role), "epoch": .number(Double($0.epoch))] }),
        ]
    }
}
