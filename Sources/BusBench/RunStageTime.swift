import Bus

/// One queue and envelope kind of a run (`verifier/built`, `planner/verdict`, `docs/changelog`):
/// how long its envelopes waited to be claimed and how long their handlers took.
public struct RunStageTime: Sendable {
    /// `role/kind`.
    public var name: String
    /// Published → claimed.
    public var wait: RunStat
    /// Claimed → acked.
    public var handling: RunStat

    /// `{name, wait, handling}`.
    public var json: JSONValue { ["name": .string(name), "wait": wait.json, "handling": handling.json] }
}
