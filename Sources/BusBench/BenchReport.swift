import Bus

/// The targets of the bus benchmark (from the issue), checked against the measured figures.
public enum BenchTargets {
    /// Non-durable end-to-end throughput, as a fraction of the non-durable floor.
    public static let minimumNonDurableRatio = 0.5
    /// inotify wake latency, median, in milliseconds (strictly below).
    public static let inotifyP50Ms = 1.0
    /// inotify wake latency, 99th percentile, in milliseconds (strictly below).
    public static let inotifyP99Ms = 10.0
    /// `planbus log --run R` for a 100-envelope run on a 100,000-envelope bus, in seconds (every
    /// timed run strictly below).
    public static let logQuerySeconds = 0.5
}

/// Everything one run of the bus benchmark measured.
public struct BenchReport: Sendable {
    /// What was run.
    public var configuration: BusBenchmark.Configuration
    /// Where it ran.
    public var machine: MachineInfo
    /// The syscall floor.
    public var floor = FloorResult()
    /// The bus's code one envelope at a time, by durability.
    public var sequential: [SequenceResult] = []
    /// Throughput cases, in the order run.
    public var throughput: [ThroughputResult] = []
    /// Wake latency in inotify mode.
    public var wakeInotify: WakeLatencyResult?
    /// Wake latency in poll mode.
    public var wakePoll: WakeLatencyResult?
    /// The log query.
    public var logQuery: LogQueryResult?
    /// Wall-clock seconds of the whole run.
    public var totalSeconds = 0.0

    init(configuration: BusBenchmark.Configuration, machine: MachineInfo) {
        self.configuration = configuration
        self.machine = machine
    }

    /// Bus throughput over the throughput of the floor sequence measured just before the case.
    public func ratio(_ result: ThroughputResult) -> Double {
        let f = result.adjacentFloor.perSecond
        return f > 0 ? result.endToEnd.perSecond / f : 0
    }

    /// Bus throughput over the floor sequence measured at the start of the run.
    public func ratioToFirstFloor(_ result: ThroughputResult) -> Double {
        let f = (result.setup.durable ? floor.durableSequence : floor.sequence).perSecond
        return f > 0 ? result.endToEnd.perSecond / f : 0
    }

    /// Signs that the machine changed speed during the run, which make the ratios unreliable.
    public var warnings: [String] {
        var out: [String] = []
        let floors =
            [floor.sequence.perSecond]
            + throughput.filter { !$0.setup.durable }.map(\.adjacentFloor.perSecond)
            + sequential.filter { !$0.durable }.map(\.adjacentFloor.perSecond)
        if let low = floors.filter({ $0 > 0 }).min(), let high = floors.max(), high > 2 * low {
            out.append(
                "the non-durable floor ranged from \(Int(low))/s to \(Int(high))/s during the run: file creation "
                    + "speed drifted (on ext4 without a journal, files deleted in the last minutes slow every "
                    + "create; a previous benchmark's clean-up is enough). Read ratio_to_floor together with "
                    + "ratio_to_first_floor; for steadier figures run on a quiet machine, 6 minutes after any "
                    + "large deletion")
        }
        if machine.build == "debug" { out.append("a debug build: build with -c release for real figures") }
        return out
    }

    /// Each target, and whether the figures meet it.
    public var targetsMet: [String: Bool] {
        var met: [String: Bool] = [:]
        for result in throughput where !result.setup.durable && result.setup.heartbeat {
            met["non_durable_throughput_\(result.setup.consumers)_consumer"] =
                ratio(result) >= BenchTargets.minimumNonDurableRatio
        }
        if let w = wakeInotify {
            met["inotify_wake_p50"] = w.missed == 0 && w.latency.p50 < BenchTargets.inotifyP50Ms * 1000
            met["inotify_wake_p99"] = w.missed == 0 && w.latency.p99 < BenchTargets.inotifyP99Ms * 1000
        }
        if let q = logQuery {
            met["log_query"] =
                q.printedLines == q.targetRunEnvelopes && q.large.max < BenchTargets.logQuerySeconds * 1e6
                && q.largeManyClaims.max < BenchTargets.logQuerySeconds * 1e6
        }
        return met
    }

    /// The report as one JSON document.
    public var json: JSONValue {
        let c = configuration
        var o: [String: JSONValue] = [
            "benchmark": "bus",
            "command": .string(c.commandLine),
            "total_seconds": rounded(totalSeconds, 1),
            "machine": machine.json,
            "settings": [
                "quick": .bool(c.quick), "count": .number(Double(c.count)),
                "durable_count": .number(Double(c.durableCount)),
                "inotify_samples": .number(Double(c.inotifySamples)), "poll_samples": .number(Double(c.pollSamples)),
                "poll_ms": .number(Double(c.pollMs)), "log_other_envelopes": .number(Double(c.logEnvelopes)),
                "log_other_runs": .number(Double(c.logRuns)), "log_repeats": .number(Double(c.logRepeats)),
                "consumers": "separate processes (planbus bench bus-consumer), each a BusWorker",
            ],
            "floor": [
                "sequence_non_durable": floor.sequence.json.adding(
                    "cpu_us_per_op", rounded(floor.sequenceCPUSeconds * 1e6 / Double(max(1, floor.sequence.count)), 1)),
                "sequence_durable": floor.durableSequence.json.adding(
                    "cpu_us_per_op",
                    rounded(floor.durableSequenceCPUSeconds * 1e6 / Double(max(1, floor.durableSequence.count)), 1)),
                "create_write_rename": floor.createWriteRename.json,
                "create_write_fsync_rename_dirsync": floor.createWriteRenameDurable.json,
                "o_excl_create": floor.exclusiveCreate.json,
                "rename": floor.rename.json,
            ],
            "targets": [
                "non_durable_ratio_min": .number(BenchTargets.minimumNonDurableRatio),
                "inotify_wake_p50_ms_below": .number(BenchTargets.inotifyP50Ms),
                "inotify_wake_p99_ms_below": .number(BenchTargets.inotifyP99Ms),
                "log_query_seconds_below": .number(BenchTargets.logQuerySeconds),
            ],
            "targets_met": .object(targetsMet.mapValues(JSONValue.bool)),
            "warnings": .array(warnings.map(JSONValue.string)),
        ]
        var cases: [String: JSONValue] = [:]
        for r in throughput {
            let cpu = (r.producerCPUSeconds + r.consumerCPUSeconds) * 1e6 / Double(max(1, r.setup.count))
            cases[r.setup.key] = [
                "consumers": .number(Double(r.setup.consumers)), "durable": .bool(r.setup.durable),
                "end_to_end": r.endToEnd.json, "publish_only": r.publishing.json,
                "floor_just_before": r.adjacentFloor.json,
                "ratio_to_floor": rounded(ratio(r), 3),
                "ratio_to_first_floor": rounded(ratioToFirstFloor(r), 3),
                "cpu_us_per_envelope": [
                    "total": rounded(cpu, 1),
                    "producer": rounded(r.producerCPUSeconds * 1e6 / Double(max(1, r.setup.count)), 1),
                    "consumers": rounded(r.consumerCPUSeconds * 1e6 / Double(max(1, r.setup.count)), 1),
                ],
                "acks_per_consumer": .array(r.acksPerConsumer.map { .number(Double($0)) }),
                "consumer": .string(
                    r.setup.heartbeat ? "BusWorker" : "wake→claim→ack loop without heartbeat writes (what-if)"),
            ]
        }
        o["throughput"] = .object(cases)
        var steps: [String: JSONValue] = [:]
        for r in sequential {
            steps[(r.durable ? "durable" : "non_durable") + (r.heartbeat ? "_with_heartbeat" : "")] = r.json
        }
        o["bus_code_one_thread"] = .object(steps)
        var wake: [String: JSONValue] = [:]
        if let w = wakeInotify { wake["inotify"] = w.latency.json.adding("missed", .number(Double(w.missed))) }
        if let w = wakePoll {
            wake["poll"] = w.latency.json.adding("missed", .number(Double(w.missed)))
                .adding("poll_ms", .number(Double(w.pollMs ?? 0)))
        }
        o["wake_latency"] = .object(wake)
        if let q = logQuery {
            o["log_query"] = [
                "command": .string("planbus log --bus DIR --run \(LogQueryBench.targetRun)"),
                "bus_envelopes": .number(Double(q.busEnvelopes)), "runs": .number(Double(q.runs)),
                "run_envelopes": .number(Double(q.targetRunEnvelopes)),
                "printed_lines": .number(Double(q.printedLines)),
                "build_seconds": rounded(q.buildSeconds, 1),
                "large_bus_ms": milliseconds(q.large), "run_alone_ms": milliseconds(q.small),
                "large_bus_many_claims_ms": milliseconds(q.largeManyClaims),
                "held_claims_of_other_runs": .number(Double(q.heldOtherClaims)),
            ]
        }
        return .object(o)
    }

    private func milliseconds(_ s: LatencySummary) -> JSONValue {
        [
            "runs": .number(Double(s.sortedMicroseconds.count)), "p50": rounded(s.p50 / 1000, 1),
            "max": rounded(s.max / 1000, 1), "min": rounded(s.min / 1000, 1),
        ]
    }
}

extension JSONValue {
    /// This object with one more member.
    func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard var o = objectValue else { return self }
        o[key] = value
        return .object(o)
    }
}
