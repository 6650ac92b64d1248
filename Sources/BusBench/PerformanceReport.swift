import Bus

/// Everything one run of `planbus bench report` measured, with the headline figures gathered.
public struct PerformanceReport: Sendable {
    /// What was run.
    public var configuration: PerformanceBenchmark.Configuration
    /// Where it ran (load averages before and after the whole run).
    public var machine: MachineInfo
    /// The commit of the current directory's work tree, if it is one.
    public var commit: String?
    /// The bus benchmark.
    public var bus: BenchReport?
    /// The bus against Redis Streams.
    public var broker: BrokerComparison?
    /// Queries over one run of many envelopes.
    public var journal: JournalQueryResult?
    /// The supervision benchmark.
    public var session: SessionReport?
    /// The orchestration benchmark, with memory readings.
    public var run: RunReport?
    /// Wall-clock seconds of the whole run.
    public var totalSeconds = 0.0
    /// What creating a file cost in the scratch directory before the bus parts (the orchestration
    /// part's sessions carry their own).
    public var fileCreate: [FileCreateProbe] = []

    init(configuration: PerformanceBenchmark.Configuration, machine: MachineInfo) {
        self.configuration = configuration
        self.machine = machine
    }

    /// The orchestration sample whose memory the summary gives: the one with the most builders.
    public var memorySample: RunSample? {
        (run?.samples ?? []).filter { !$0.memory.isEmpty }.max { $0.builders < $1.builders }
    }

    /// Per role, over its instances: the largest idle `VmRSS`, the largest `VmRSS` sampled under
    /// load and the largest `VmHWM`, in KiB, and how many instances.
    public static func perRole(_ readings: [RoleMemory]) -> [(
        role: String, instances: Int, idle: Int, load: Int, peak: Int
    )] {
        var order: [String] = []
        var grouped: [String: [RoleMemory]] = [:]
        for reading in readings {
            if grouped[reading.role] == nil { order.append(reading.role) }
            grouped[reading.role, default: []].append(reading)
        }
        return order.map { role in
            let all = grouped[role]!
            return (
                role, all.count, all.compactMap { $0.idle?.residentKiB }.max() ?? 0,
                all.compactMap(\.loadResidentKiB).max() ?? 0, all.compactMap(\.loadPeakKiB).max() ?? 0
            )
        }
    }

    /// Signs that the figures are not the ones to quote, from every part.
    public var warnings: [String] {
        var out: [String] = []
        if machine.build == "debug" { out.append("a debug build: build with -c release for real figures") }
        if configuration.quick { out.append("--quick: small counts, not figures to quote") }
        if let load = machine.loadAverageBefore.first, Double(machine.cpus) > 0, load > Double(machine.cpus) / 2 {
            out.append("the 1-minute load average was \(format(load, 2)) on \(machine.cpus) CPUs when the run started")
        }
        out += fileCreate.compactMap(\.warning)
        out += (bus?.warnings ?? []).map { "bus: " + $0 }
        out += (session?.warnings ?? []).map { "session: " + $0 }
        out += (run?.warnings ?? []).map { "run: " + $0 }
        if let skipped = broker?.skipped { out.append("broker: " + skipped) }
        return out
    }

    /// The report as one JSON document: each part's own report, and the summary.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "benchmark": "report", "command": .string(configuration.commandLine),
            "commit": commit.map(JSONValue.string) ?? .null, "total_seconds": rounded(totalSeconds, 1),
            "machine": machine.json, "quick": .bool(configuration.quick),
            "warnings": .array(warnings.map(JSONValue.string)),
        ]
        o["bus"] = bus?.json ?? .null
        o["broker"] = broker?.json ?? .null
        o["journal"] = journal?.json ?? .null
        o["session"] = session?.json ?? .null
        o["run"] = run?.json ?? .null
        o["file_create"] = .array(fileCreate.map(\.json))
        if let sample = memorySample {
            o["memory"] = [
                "session": .string("\(sample.tasks) tasks, \(sample.builders) builders"),
                "idle_seconds": .number(configuration.memoryIdleSeconds),
                "per_role_kib": .array(
                    Self.perRole(sample.memory).map { r in
                        [
                            "role": .string(r.role), "instances": .number(Double(r.instances)),
                            "idle_vmrss": .number(Double(r.idle)), "load_max_vmrss": .number(Double(r.load)),
                            "vmhwm": .number(Double(r.peak)),
                        ]
                    }),
            ]
        }
        return .object(o)
    }
}
