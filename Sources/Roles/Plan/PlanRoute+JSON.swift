import Bus
import FileFormats

extension PlanRoute {
    /// The route for programs.
    ///
    /// An object with the plan's `version`, `name`, `goal`, `risk`, `file`, `repository`,
    /// `base_branch`, `max_attempts`, `circuit_breaker`, `budget`, `run_budget` (`files`, `lines`, `attempts`), `gates`, `preflight` and `smoke`, then `stages`
    /// (names in order), `waves` (a list of lists of task ids) and `tasks`: for each task in file
    /// order its `id`, `title`, `wave`, `depends_on`, `overlaps_with`, `scope`, effective `gates`
    /// and `budget`, `candidates`, `needs_approval` and `needs_agent`. A gate is `name`,
    /// `command` (`{"argv": [...]}` or `{"shell": "..."}`), `timeout` (as in the plan file, such
    /// as `"10m"`), `timeout_ms` and `protects`; a budget is `files` and `lines`, each a number or
    /// null.
    public var json: JSONValue {
        .object([
            "version": .number(Double(plan.version)),
            "name": .string(plan.name),
            "goal": .string(plan.goal),
            "risk": .string(plan.risk.rawValue),
            "file": .string(plan.file),
            "repository": .string(plan.repository),
            "base_branch": .string(plan.baseBranch),
            "max_attempts": .number(Double(plan.maxAttempts)),
            "circuit_breaker": .number(Double(plan.circuitBreaker)),
            "budget": Self.json(plan.budget),
            "run_budget": .object([
                "files": plan.runBudget.files.map { .number(Double($0)) } ?? .null,
                "lines": plan.runBudget.lines.map { .number(Double($0)) } ?? .null,
                "attempts": plan.runBudget.attempts.map { .number(Double($0)) } ?? .null,
            ]),
            "gates": .array(plan.gates.map(Self.json)),
            "preflight": .array(plan.preflight.map(Self.json)),
            "smoke": .array(plan.smoke.map(Self.json)),
            "stages": .array(stages.map { .string($0.rawValue) }),
            "waves": .array(waves.map { .array($0.map(JSONValue.string)) }),
            "tasks": .array(tasks.map(Self.json)),
        ])
    }

    static func json(_ task: TaskRoute) -> JSONValue {
        .object([
            "id": .string(task.id),
            "title": .string(task.title),
            "wave": .number(Double(task.wave)),
            "depends_on": .array(task.dependsOn.map(JSONValue.string)),
            "overlaps_with": .array(task.overlapsWith.map(JSONValue.string)),
            "scope": .array(task.scope.map(JSONValue.string)),
            "gates": .array(task.gates.map(json)),
            "budget": json(task.budget),
            "candidates": .number(Double(task.candidates)),
            "needs_approval": .bool(task.needsApproval),
            "needs_agent": .bool(task.needsAgent),
        ])
    }

    static func json(_ gate: Gate) -> JSONValue {
        let command: JSONValue
        switch gate.command {
        case .argv(let words): command = .object(["argv": .array(words.map(JSONValue.string))])
        case .shell(let line): command = .object(["shell": .string(line)])
        }
        let (seconds, attoseconds) = gate.timeout.components
        return .object([
            "name": .string(gate.name),
            "command": command,
            "timeout": .string(DurationText.format(gate.timeout)),
            "timeout_ms": .number(Double(seconds * 1_000 + attoseconds / 1_000_000_000_000_000)),
            "protects": .array(gate.protects.map(JSONValue.string)),
        ])
    }

    static func json(_ budget: PlanBudget) -> JSONValue {
        .object([
            "files": budget.files.map { .number(Double($0)) } ?? .null,
            "lines": budget.lines.map { .number(Double($0)) } ?? .null,
        ])
    }
}
