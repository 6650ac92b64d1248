import ArgumentParser
import Bus

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show the timeline: one line per envelope, with what became of it.",
        discussion: """
            Each line: time, from → to, kind [task], state (waiting / claimed by whom at which epoch / \
            done / retry / dead and why), summary. With RUN (or --run), only that run's journal is read, \
            however large the rest of the bus is. Without it, every run is shown, then files that \
            were dead-lettered before any run could be read from them.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Argument(help: "Only this run (the same as --run).")
    var runArgument: String?

    @Option(help: "Only this run.")
    var run: String?

    @Option(help: "Only envelopes sent to or by this role.")
    var role: String?

    @Flag(name: .shortAndLong, help: "Keep printing lines as envelopes change state (Ctrl-C to stop).")
    var follow = false

    @Flag(help: "Print JSON lines instead of text.")
    var json = false

    @Flag(help: "End each text line with the envelope's id, for planbus show ID.")
    var ids = false

    @Option(help: "How often --follow looks for changes, in milliseconds.")
    var intervalMs = 250

    func validate() throws {
        if let runArgument, let run, runArgument != run {
            throw ValidationError("give the run once: either RUN or --run")
        }
    }

    func run() async throws {
        let run = self.run ?? runArgument
        try await reportingFailures {
            let bus = try busOptions.open()
            if let run { try Limits.checkName(run, field: "--run") }
            if let role { try Limits.checkRole(role, field: "--role") }
            if let run, !FileOps.isDirectory(bus.layout.run(run)) {
                throw CLIFailure("no run \(run) on \(bus.layout.root)", code: 4)
            }
            let reader = JournalReader(layout: bus.layout)
            let timeline = Timeline(bus: bus)
            var offsets: [String: [String: Int]] = [:]
            var events: [String: [JournalEvent]] = [:]
            var printed: [String: Timeline.State] = [:]
            var first = true
            while true {
                var changed: [Timeline.Entry] = []
                for r in run.map({ [$0] }) ?? reader.runs() {
                    var o = offsets[r] ?? [:]
                    let fresh = reader.newEvents(run: r, offsets: &o)
                    offsets[r] = o
                    guard !fresh.isEmpty else { continue }
                    events[r, default: []].append(contentsOf: fresh)
                    let touched = Set(fresh.map(Timeline.key(for:)))
                    for entry in timeline.entries(run: r, events: events[r]!) {
                        let key = entry.key
                        guard touched.contains(key), printed[key] != entry.state else { continue }
                        printed[key] = entry.state
                        changed.append(entry)
                    }
                }
                for entry in changed.sorted(by: { ($0.time, $0.id) < ($1.time, $1.id) }) where matches(entry) {
                    emit(json ? entry.json.serialized() : entry.line + (ids ? "  id=\(entry.id)" : ""))
                }
                if first && run == nil { printUnreadableDeadLetters(bus) }
                first = false
                guard follow else { return }
                try await Task.sleep(for: .milliseconds(max(20, intervalMs)))
            }
        }
    }

    private func matches(_ entry: Timeline.Entry) -> Bool {
        guard let role else { return true }
        return entry.role == role || entry.fromRole == role
    }

    /// Dead letters that never became a journal line: files no run could be read from.
    private func printUnreadableDeadLetters(_ bus: Bus) {
        for queue in (try? bus.roles()) ?? [] where role == nil || role == queue {
            for item in DeadLetters.items(layout: bus.layout, role: queue) where item.reason["run"] == nil {
                let reason = item.reason["reason"]?.stringValue ?? "no reason recorded"
                let original = item.reason["original_name"]?.stringValue ?? item.file
                let time = item.reason["time"]?.stringValue ?? "?"
                if json {
                    emit(
                        JSONValue.object([
                            "to": .string(queue), "state": "dead", "file": .string(item.file),
                            "original_name": .string(original), "reason": .string(reason), "time": .string(time),
                        ]).serialized())
                } else {
                    emit("\(time)  ? → \(queue)  (unreadable \(original.debugDescription))  dead: \(reason)")
                }
            }
        }
    }
}
