import Bus
import Launcher

/// Everything one run of the session benchmark measured.
public struct SessionReport: Sendable {
    /// What was run.
    public var configuration: SessionBenchmark.Configuration
    /// Where it ran.
    public var machine: MachineInfo
    /// `up` → every role heartbeats, one sample per run.
    public var up: [SessionUpSample] = []
    /// SIGKILL → envelope completed, one point per mode and lease, in the order run.
    public var kills: [SessionKillPoint] = []
    /// What went wrong in a measurement that still let the benchmark go on (an envelope completed
    /// at another epoch than 2, a take-over by another path than expected, a time-out).
    public var errors: [String] = []
    /// Wall-clock seconds of the whole run.
    public var totalSeconds = 0.0

    init(configuration: SessionBenchmark.Configuration, machine: MachineInfo) {
        self.configuration = configuration
        self.machine = machine
    }

    /// Per lease measured in both modes: the median kill → done on another host minus the median
    /// on the same host, in seconds. The same-host take-over is the floor: everything but the wait
    /// for the lease.
    public var leaseCost: [(lease: Duration, seconds: Double)] {
        configuration.leases.compactMap { lease in
            let same = kills.first { $0.mode == .sameHost && $0.lease == lease && !$0.samples.isEmpty }
            let other = kills.first { $0.mode == .otherHost && $0.lease == lease && !$0.samples.isEmpty }
            guard let same, let other else { return nil }
            return (lease, other.done.median - same.done.median)
        }
    }

    /// Signs that the figures are not the ones to quote.
    public var warnings: [String] {
        var out: [String] = []
        if machine.build == "debug" { out.append("a debug build: build with -c release for real figures") }
        if !errors.isEmpty { out.append("\(errors.count) measurement error(s): see errors") }
        return out
    }

    /// The report as one JSON document.
    public var json: JSONValue {
        let c = configuration
        var o: [String: JSONValue] = [
            "benchmark": "session",
            "command": .string(c.commandLine),
            "total_seconds": rounded(totalSeconds, 1),
            "machine": machine.json,
            "settings": [
                "quick": .bool(c.quick), "runs": .number(Double(c.runs)),
                "instances": .number(Double(c.instances)),
                "leases_ms": .array(c.leases.map { .number(Double($0.milliseconds)) }),
                "janitor_max_ms": .number(Double(c.janitor.milliseconds)),
                "restart_backoff_ms": .number(Double(c.restartBackoff.milliseconds)),
                "poll_ms": .number(Double(SessionBenchmark.pollInterval.milliseconds)),
                "role": "planbus bench session-role (BenchRole), one process per instance, started by planbus up",
            ],
            "errors": .array(errors.map(JSONValue.string)),
            "warnings": .array(warnings.map(JSONValue.string)),
        ]
        o["up"] = [
            "instances": .number(Double(c.instances)),
            "heartbeat_files_ms": SessionSpread(up.map(\.heartbeatFiles)).json,
            "all_running_ms": SessionSpread(up.map(\.running)).json,
            "floor_parallel_ms": SessionSpread(up.map(\.floorParallel)).json,
            "floor_one_process_ms": SessionSpread(up.map(\.floorOne)).json,
            "ratio_running_to_floor": SessionSpread(up.map(\.ratio), scale: 1, digits: 2).json,
            "ratio_heartbeat_files_to_floor": SessionSpread(up.map(\.heartbeatRatio), scale: 1, digits: 2).json,
            "stop_ms": SessionSpread(up.compactMap(\.stop)).json,
            "runs": .array(up.map(\.json)),
        ]
        o["kill"] = .array(kills.map(\.json))
        o["other_host_minus_same_host"] = .array(
            leaseCost.map { cost in
                let lease = Double(cost.lease.milliseconds) / 1000
                return [
                    "lease_ms": .number(Double(cost.lease.milliseconds)),
                    "done_median_difference_ms": rounded(cost.seconds * 1000, 1),
                    "over_lease": rounded(cost.seconds / lease, 2),
                ]
            })
        return .object(o)
    }
}
