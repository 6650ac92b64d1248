import Bus

/// What a chaos run did and found: the kills, the take-overs and recovery times, the checks, and
/// the dead letters.
public struct ChaosReport: Sendable {
    /// What was run.
    public var configuration: ChaosBenchmark.Configuration
    /// The seed of the kill schedule (given or drawn).
    public var seed: UInt64
    /// Where it ran.
    public var machine: MachineInfo
    /// Every kill, in order.
    public var kills: [ChaosKill] = []
    /// Take-overs and recovery times.
    public var recovery = ChaosRecovery(kills: [], events: [])
    /// The checks, in order.
    public var checks: [ChaosCheck] = []
    /// The dead letters: queue, kind, task, id and reason.
    public var deadLetters: [String] = []
    /// What `planbus janitor --watch --json` reported after the roles stopped.
    public var janitor: JSONValue = .null
    /// Seconds from `planbus submit` until the planner said the run finished (or the time-out).
    public var runSeconds = 0.0
    /// Seconds of the whole chaos run, set-up and checks included.
    public var totalSeconds = 0.0
    /// The scratch directory, when it was kept.
    public var keptDirectory: String?

    /// The run's name on the bus.
    public static let run = "chaos"

    /// True when every check holds.
    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }

    /// The failed checks, as `name: detail`.
    public var failures: [String] { checks.filter { !$0.passed }.map { "\($0.name): \($0.detail)" } }

    /// Kills per role (`supervisor` for `planbus up`), sorted by role.
    public var killsPerRole: [(role: String, kills: Int)] {
        var counts: [String: Int] = [:]
        for kill in kills { counts[kill.role, default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Kills that found the victim holding at least one claim.
    public var killsHolding: Int { kills.filter { !$0.held.isEmpty }.count }

    /// The report as one JSON document.
    public var json: JSONValue {
        let c = configuration
        var perRole: [String: JSONValue] = [:]
        for (role, count) in killsPerRole { perRole[role] = .number(Double(count)) }
        return [
            "benchmark": "chaos", "passed": .bool(passed), "seed": .string(String(seed)),
            "configuration": [
                "tasks": .number(Double(c.tasks)), "builders": .number(Double(c.builders)),
                "verifiers": .number(Double(c.verifiers)), "min_interval_s": rounded(c.minInterval, 3),
                "max_interval_s": rounded(c.maxInterval, 3), "timeout_s": rounded(c.timeout.seconds, 0),
                "chains": .number(Double(ChaosPlanText.chains(tasks: c.tasks).count)),
                "bus_settings": .array(ChaosBenchmark.busSettings.map(JSONValue.string)),
                "supervisor": .array(ChaosBenchmark.supervisorSettings.map(JSONValue.string)),
                "command": .string(c.commandLine),
            ],
            "machine": machine.json,
            "kills": [
                "total": .number(Double(kills.count)), "per_role": .object(perRole),
                "holding_claims": .number(Double(killsHolding)),
                "claims_held": .number(Double(kills.reduce(0) { $0 + $1.held.count })),
                "list": .array(kills.map(\.json)),
            ],
            "recovery": recovery.json, "checks": .array(checks.map(\.json)),
            "failures": .array(failures.map(JSONValue.string)),
            "dead_letters": .array(deadLetters.map(JSONValue.string)), "janitor": janitor,
            "run_seconds": rounded(runSeconds, 2), "total_seconds": rounded(totalSeconds, 2),
            "kept_directory": keptDirectory.map(JSONValue.string) ?? .null,
        ]
    }
}
