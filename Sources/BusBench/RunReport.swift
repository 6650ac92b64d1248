import Bus
import Launcher

/// Everything one run of the orchestration benchmark measured.
public struct RunReport: Sendable {
    /// What was run.
    public var configuration: RunBenchmark.Configuration
    /// Where it ran.
    public var machine: MachineInfo
    /// The main plan, one sample per builder count.
    public var samples: [RunSample] = []
    /// The large plan, one sample per builder count.
    public var big: [RunSample] = []
    /// Wall-clock seconds of the whole run.
    public var totalSeconds = 0.0

    /// The target: makespan / ideal at most this with 8 builders.
    public static let targetRatio = 1.15

    init(configuration: RunBenchmark.Configuration, machine: MachineInfo) {
        self.configuration = configuration
        self.machine = machine
    }

    /// The main plan's sample with 8 builders, if it was run.
    public var targetSample: RunSample? { samples.first { $0.builders == 8 } }

    /// Signs that the figures are not the ones to quote.
    public var warnings: [String] {
        var out: [String] = []
        if machine.build == "debug" { out.append("a debug build: build with -c release for real figures") }
        for s in samples + big where !s.finished {
            out.append("\(s.tasks) tasks with \(s.builders) builders did not finish: \(s.integrated) integrated")
        }
        for s in samples + big where s.finished && s.integrated != s.tasks {
            out.append("\(s.tasks) tasks with \(s.builders) builders: only \(s.integrated) integrated")
        }
        out += (samples + big).compactMap { $0.fileCreate?.warning }
        return out
    }

    /// The report as one JSON document.
    public var json: JSONValue {
        let c = configuration
        let target = targetSample
        return [
            "benchmark": "run",
            "command": .string(c.commandLine),
            "total_seconds": rounded(totalSeconds, 1),
            "machine": machine.json,
            "settings": [
                "tasks": .number(Double(c.tasks)), "step_seconds": .number(c.stepSeconds),
                "builders": .array(c.builders.map { .number(Double($0)) }),
                "big_tasks": .number(Double(c.bigTasks)), "big_step_seconds": .number(c.bigStepSeconds),
                "big_builders": .array(c.bigBuilders.map { .number(Double($0)) }),
                "verifiers": .number(Double(c.verifiers)), "floor_samples": .number(Double(c.floorSamples)),
                "timeout_s": .number(Double(c.timeout.components.seconds)),
                "poll_ms": .number(Double(RunBenchmark.pollInterval.milliseconds)),
                "bus_settings": "defaults (durable, heartbeat 2s, lease 15s, wake auto)",
                "roles": .string(
                    "planner 1, builder N, verifier \(c.verifiers), judge 1, docs 1, started by planbus up"),
            ],
            "target": [
                "builders": 8, "ratio_at_most": .number(Self.targetRatio),
                "ratio": target.map { rounded($0.ratio, 3) } ?? .null,
                "met": target.map { .bool($0.finished && $0.ratio <= Self.targetRatio) } ?? .null,
            ],
            "runs": .array(samples.map(\.json)),
            "big": .array(big.map(\.json)),
            "warnings": .array(warnings.map(JSONValue.string)),
        ]
    }
}
