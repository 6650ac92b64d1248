import ArgumentParser
import Bus
import Foundation
import Launcher
import Roles

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a run's tasks: state, attempt, last verdict, and who holds each now.",
        discussion: """
            Reads the planner's runs/RUN/status.json (the run's state, folded from the bus) and the \
            claims in the builder and verifier queues. Without RUN, the most recently updated run. \
            An envelope of the run that was dead-lettered is shown (JSON: dead_letters) with what \
            the planner made of it: a failed attempt of its task, or the end of the run.
            """
    )

    @Argument(help: "The run id (default: the most recent run).")
    var run: String?

    @Flag(help: "Print the status as JSON.")
    var json = false

    @OptionGroup var busOptions: BusOptions

    func run() async throws {
        try await reportingFailures {
            let bus = try busOptions.open()
            if let run { try Limits.checkName(run, field: "RUN") }
            guard let runID = run ?? latestRun(bus.layout) else {
                throw CLIFailure("no run on \(bus.layout.root) yet (planbus submit PLAN starts one)", code: 4)
            }
            let file = bus.layout.run(runID) + "/status.json"
            guard case .bytes(let b) = FileOps.readRegular(file, limit: 16 << 20), var status = try? JSONValue.parse(b)
            else {
                guard FileOps.isDirectory(bus.layout.run(runID)) else {
                    throw CLIFailure("no run \(runID) on \(bus.layout.root)", code: 4)
                }
                if let dead = JournalReader(layout: bus.layout).events(run: runID).first(where: {
                    $0.event == .dead && !$0.duplicate && $0.kind == RunMessages.goal
                }) {
                    throw CLIFailure(
                        "run \(runID) has no status: its goal \(dead.id) was dead-lettered: "
                            + (dead.reason ?? "no reason recorded"), code: 1)
                }
                let planner = WorkerStatus.collect(bus: bus).contains {
                    $0.role == "planner" && $0.mark == nil && ["idle", "working", "backoff"].contains($0.state)
                }
                throw CLIFailure(
                    "run \(runID) has no status yet: its goal waits for the planner"
                        + (planner ? " (planbus log \(runID))" : ", and no planner is running (planbus up)"), code: 4)
            }
            let holders = self.holders(bus.layout, run: runID)
            let times = TaskTimes(run: runID, layout: bus.layout)
            if case .object(var o) = status {
                o["tasks"] = .array(
                    (o["tasks"]?.arrayValue ?? []).map { task in
                        guard case .object(var t) = task, let id = t["id"]?.stringValue else { return task }
                        t["held_by"] = holders[id].map(JSONValue.string) ?? .null
                        let settled = ["integrated", "failed", "blocked"].contains(t["state"]?.stringValue ?? "")
                        t["elapsed_ms"] =
                            times.elapsed(id, settled: settled).map {
                                .number(
                                    Double(
                                        $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000
                                    ))
                            } ?? .null
                        return .object(t)
                    })
                // Every envelope of the run that was dead-lettered, with what the planner made of
                // it (`effect`, `outcome`) once it took it.
                var taken: [String: JSONValue] = [:]
                for letter in o["dead_letters"]?.arrayValue ?? [] {
                    taken["\(letter["id"]?.stringValue ?? "")@\(letter["role"]?.stringValue ?? "")"] = letter
                }
                let dead = JournalReader(layout: bus.layout).events(run: runID).filter {
                    $0.event == .dead && !$0.duplicate
                }
                if !dead.isEmpty || !taken.isEmpty {
                    var listed: Set<String> = []
                    var letters: [JSONValue] = dead.map { event in
                        let key = "\(event.id)@\(event.role)"
                        listed.insert(key)
                        return taken[key]
                            ?? [
                                "id": .string(event.id), "role": .string(event.role),
                                "kind": event.kind.map(JSONValue.string) ?? .null,
                                "reason": event.reason.map(JSONValue.string) ?? .null, "effect": .null,
                                "outcome": .null,
                            ]
                    }
                    letters += taken.filter { !listed.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value)
                    o["dead_letters"] = .array(letters)
                }
                status = .object(o)
            }
            if json {
                emit(status.serialized())
                return
            }
            let finished = status["finished"] == .bool(true)
            emit(
                "run \(runID) · plan \(status["plan"]?.stringValue ?? "?") · risk \(status["risk"]?.stringValue ?? "?") · "
                    + "stage \(status["stage"]?.stringValue ?? "?") · "
                    + (status["halted"]?.stringValue.map { "HALTED: \($0)" } ?? (finished ? "finished" : "running")))
            if let waiting = status["waiting"]?.stringValue { emit(waiting) }
            for dead in status["dead_letters"]?.arrayValue ?? [] {
                let outcome =
                    dead["outcome"]?.stringValue
                    ?? (finished ? "it came after the run finished" : "the planner has not taken it yet")
                emit(
                    "DEAD LETTER: \(dead["kind"]?.stringValue ?? "envelope") \(dead["id"]?.stringValue ?? "?") to "
                        + "\(dead["role"]?.stringValue ?? "?"): \(dead["reason"]?.stringValue ?? "no reason recorded"); "
                        + "\(outcome) (planbus show ID)")
            }
            for stage in ["preflight", "smoke"] {
                if let summary = status[stage]?["summary"]?.stringValue {
                    emit("\(stage): \(status[stage]?["passed"] == .bool(true) ? "passed" : "FAILED"): \(summary)")
                }
            }
            let rows = (status["tasks"]?.arrayValue ?? []).map { t -> [String] in
                let detail = RunWatch.detail(t, run: runID)
                return [
                    t["id"]?.stringValue ?? "?", t["state"]?.stringValue ?? "?",
                    (t["attempt"] ?? t["attempts"])?.intValue.map { "\($0)" } ?? "-",
                    t["held_by"]?.stringValue ?? "-",
                    TaskTimes.format(t["elapsed_ms"]?.intValue.map { .milliseconds($0) }),
                    String(detail.split(separator: "\n").first ?? "").prefix(70).description,
                ]
            }
            emit(TextTable.format([["TASK", "STATE", "ATTEMPT", "HELD BY", "ELAPSED", "DETAIL"]] + rows))
        }
    }

    /// The run whose status file changed last.
    private func latestRun(_ layout: BusLayout) -> String? {
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: layout.runs)) ?? []
        return runs.compactMap { run -> (String, Date)? in
            // A run just submitted has its folder and journal, and no status until the planner
            // takes its goal; a running run's status.json changes with every input.
            let dates = [layout.run(run), layout.run(run) + "/journal", layout.run(run) + "/status.json"].compactMap {
                (try? FileManager.default.attributesOfItem(atPath: $0))?[.modificationDate] as? Date
            }
            return dates.max().map { (run, $0) }
        }.max { $0.1 < $1.1 }?.0
    }

    /// Which worker holds an envelope of each task of the run now, from the claim files.
    private func holders(_ layout: BusLayout, run: String) -> [String: String] {
        var out: [String: String] = [:]
        for role in ["builder", "verifier", "judge", "docs"] {
            let cur = layout.cur(role)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: cur)) ?? [] {
                guard let at = name.firstIndex(of: "@"),
                    let data = FileManager.default.contents(atPath: cur + "/" + name),
                    let envelope = try? Envelope(decoding: Array(data)), envelope.run == run, let task = envelope.task
                else { continue }
                out[task] = String(name[name.index(after: at)...].dropLast(5))
            }
        }
        return out
    }
}
