import Bus
import Foundation
import Roles

/// What `planbus watch` shows at one moment: the workers on the bus, one run's status, and the
/// requests waiting for a person.
///
/// The run's status is the planner's `runs/<run>/status.json`, kept as read (older files have
/// fewer fields, and ``RunWatch`` reads every field tolerantly).
public struct RunWatchSnapshot: Sendable {
    /// The bus directory.
    public var bus: String
    /// When the snapshot was taken.
    public var taken: Timestamp
    /// Every worker seen on the bus, as `planbus ps` lists them.
    public var workers: [WorkerStatus]
    /// The run shown, if there is one.
    public var run: String?
    /// The run's `status.json`, when it could be read.
    public var status: JSONValue?
    /// The requests waiting for a person, in every run, oldest first.
    public var requests: [HumanRequest]

    /// Creates a snapshot from its parts.
    public init(
        bus: String, taken: Timestamp, workers: [WorkerStatus], run: String?, status: JSONValue?,
        requests: [HumanRequest]
    ) {
        self.bus = bus
        self.taken = taken
        self.workers = workers
        self.run = run
        self.status = status
        self.requests = requests
    }

    /// Reads the bus now: the workers, the status of `run` (the run whose status changed last
    /// when `run` is `nil`) and the human queue.
    public static func take(bus: Bus, run: String? = nil, now: Timestamp = .now()) -> RunWatchSnapshot {
        let layout = bus.layout
        let shown = run ?? latestRun(layout)
        var status: JSONValue?
        if let shown, case .bytes(let bytes) = FileOps.readRegular(layout.run(shown) + "/status.json", limit: 16 << 20)
        {
            status = try? JSONValue.parse(bytes)
        }
        return RunWatchSnapshot(
            bus: layout.root, taken: now, workers: WorkerStatus.collect(bus: bus, now: now), run: shown,
            status: status, requests: HumanDesk(bus: bus).requests())
    }

    /// The run whose `status.json` changed last, if any run has one.
    public static func latestRun(_ layout: BusLayout) -> String? {
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: layout.runs)) ?? []
        return runs.compactMap { run -> (String, Date)? in
            let attributes = try? FileManager.default.attributesOfItem(atPath: layout.run(run) + "/status.json")
            return (attributes?[.modificationDate] as? Date).map { (run, $0) }
        }.max { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// The snapshot as `planbus watch --json` prints it: `bus`, `taken`, `run`, `status` (the
    /// status file as read, or `null`), `workers` (as `planbus ps --json`) and `requests` (as
    /// `planbus questions --json`).
    public var json: JSONValue {
        .object([
            "bus": .string(bus), "taken": .string(taken.description), "run": run.map(JSONValue.string) ?? .null,
            "status": status ?? .null, "workers": .array(workers.map(\.json)),
            "requests": .array(requests.map { $0.json(now: taken) }),
        ])
    }
}
