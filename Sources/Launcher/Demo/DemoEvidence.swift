import Bus
import Foundation
import Roles

/// What a finished run left on the bus, read back for ``DemoChecks``: the journal, the envelopes
/// the builders and the planner took, and the planner's status.
struct DemoEvidence: Sendable {
    /// One build as the builders' queue saw it.
    struct Build: Sendable {
        var envelope: Envelope
        var task: String
        var attempt: Int
        var candidate: Int
        /// When the build was published, claimed (the claim that was acked) and acked.
        var published: Timestamp?
        var claimed: Timestamp?
        var acked: Timestamp?
        /// The worker whose claim was acked.
        var worker: String?
    }

    let run: String
    let layout: BusLayout
    let events: [JournalEvent]
    let builds: [Build]
    /// The planner's inputs of the run: verdicts and judgments.
    let verdicts: [Envelope]
    let judgments: [Envelope]
    let status: JSONValue?

    init(bus: Bus, run: String) {
        self.run = run
        layout = bus.layout
        let events = JournalReader(layout: bus.layout).events(run: run)
        self.events = events
        builds = RunMessages.taken(by: "builder", run: run, kinds: [RunMessages.build], layout: bus.layout)
            .compactMap { envelope in
                guard let task = envelope.task else { return nil }
                let mine = events.filter { $0.id == envelope.id && $0.role == "builder" }
                let ack = mine.last { $0.event == .ack }
                let claim = mine.last { $0.event == .claim && $0.epoch == ack?.epoch }
                return Build(
                    envelope: envelope, task: task, attempt: envelope.body["attempt"]?.intValue ?? 1,
                    candidate: envelope.body["candidate"]?.intValue ?? 1,
                    published: mine.first { $0.event == .publish }?.time, claimed: claim?.time, acked: ack?.time,
                    worker: claim?.worker)
            }
            .sorted { ($0.claimed ?? Timestamp(milliseconds: 0)) < ($1.claimed ?? Timestamp(milliseconds: 0)) }
        let taken = RunMessages.taken(
            by: "planner", run: run, kinds: [RunMessages.verdict, RunMessages.judgment], layout: bus.layout)
        verdicts = taken.filter { $0.kind == RunMessages.verdict }.sorted {
            Self.order($0).lexicographicallyPrecedes(Self.order($1))
        }
        judgments = taken.filter { $0.kind == RunMessages.judgment }
        if case .bytes(let bytes) = FileOps.readRegular(layout.run(run) + "/status.json", limit: 16 << 20) {
            status = try? JSONValue.parse(bytes)
        } else {
            status = nil
        }
    }

    private static func order(_ envelope: Envelope) -> [Int] {
        [
            envelope.body["attempt"]?.intValue ?? 0, envelope.body["candidate"]?.intValue ?? 1,
            envelope.body["integrated"] == .null ? 0 : 1,
        ]
    }

    /// The task's entry in `status.json`.
    func task(_ id: String) -> JSONValue? {
        status?["tasks"]?.arrayValue?.first { $0["id"]?.stringValue == id }
    }

    /// The verdicts on `task`, by attempt, then candidate (an integration's verdict last).
    func verdicts(of task: String) -> [Envelope] {
        verdicts.filter { $0.task == task }
    }

    /// The builds of `task`.
    func builds(of task: String) -> [Build] {
        builds.filter { $0.task == task }
    }

    /// When the journal says envelope `id` was published.
    func published(_ id: String) -> Timestamp? {
        events.first { $0.id == id && $0.event == .publish }?.time
    }

    /// `role@pid` of a worker id, for evidence lines.
    static func short(_ worker: String?) -> String {
        guard let worker, let id = try? WorkerID(parsing: worker) else { return worker ?? "?" }
        return "\(id.role)@\(id.pid)"
    }

    /// A duration in seconds with two decimals.
    static func seconds(_ milliseconds: Int64) -> String {
        String(format: "%.2f s", Double(milliseconds) / 1000)
    }
}
