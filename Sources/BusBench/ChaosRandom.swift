/// The chaos run's random numbers: SplitMix64, so one seed gives the same draws on every machine.
///
/// The draws are the gaps between kills and the process each kill picks; what the processes do
/// meanwhile is not seeded, so a seed repeats the schedule, not the run.
public struct ChaosRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator started from `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// A seed from the system's generator, for a run that was given none.
    public static func freshSeed() -> UInt64 {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
