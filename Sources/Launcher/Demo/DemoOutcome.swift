import Bus
import Roles

/// What `planbus demo` did and found.
public struct DemoOutcome: Sendable {
    public var project: DemoProject
    /// The run id.
    public var run: String
    /// The handoff page the docs role wrote.
    public var handoff: String
    /// Each scenario's check.
    public var scenarios: [DemoScenario]
    /// From the goal's submission to the run's end.
    public var runTime: Duration
    /// The whole demonstration, from writing the project to the last check.
    public var elapsed: Duration
    /// True when the roles were stopped and every one exited.
    public var rolesStopped: Bool
    /// The supervisor's pid.
    public var supervisorPid: Int32

    /// True when every scenario's check passed.
    public var passed: Bool { scenarios.allSatisfy(\.passed) }

    /// The summary `planbus demo --json` prints: `folder`, `repository`, `config`, `bus`, `plan`,
    /// `run`, `integration_branch`, `handoff`, `passed`, `scenarios` (each ``DemoScenario/json``),
    /// `run_ms`, `elapsed_ms`, `roles_stopped` and `supervisor_pid`.
    public var json: JSONValue {
        .object([
            "folder": .string(project.folder), "repository": .string(project.repository),
            "config": .string(project.config), "bus": .string(project.busPath), "plan": .string(project.planFile),
            "run": .string(run), "integration_branch": .string(RunMessages.integrationBranch(run)),
            "handoff": .string(handoff), "passed": .bool(passed), "scenarios": .array(scenarios.map(\.json)),
            "run_ms": .number(Double(Self.milliseconds(runTime))),
            "elapsed_ms": .number(Double(Self.milliseconds(elapsed))), "roles_stopped": .bool(rolesStopped),
            "supervisor_pid": .number(Double(supervisorPid)),
        ])
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1_000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}
