import ArgumentParser
import Bus

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one envelope, pretty-printed, with its history.",
        discussion:
            "Finds the envelope in any queue folder, then reads its run's journal for claims, take-overs and the ack."
    )

    @OptionGroup var busOptions: BusOptions

    @Argument(help: "The envelope id.")
    var id: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let bus = try busOptions.open()
            guard Limits.isValidEnvelopeID(id) else {
                throw CLIFailure("\(id.debugDescription) is not an envelope id", code: 3)
            }
            let found = try EnvelopeLocator(bus: bus).find(id)
            guard !found.isEmpty else { throw CLIFailure("no envelope \(id) on \(bus.layout.root)", code: 4) }
            var docs: [JSONValue] = []
            for copy in found {
                var history: [JournalEvent] = []
                if let run = copy.envelope?.run {
                    // The dead copy of a reused id has its own history; the first copy has the rest.
                    let duplicate = copy.deadReason?["reason"]?.stringValue?.hasPrefix("duplicate id") == true
                    history = Timeline.ordered(
                        JournalReader(layout: bus.layout).events(run: run).filter {
                            $0.id == id && $0.role == copy.role && $0.duplicate == duplicate
                        })
                }
                if json {
                    var o: [String: JSONValue] = [
                        "role": .string(copy.role), "state": .string(copy.state), "path": .string(copy.path),
                        "history": .array(history.map(\.json)),
                    ]
                    if let e = copy.envelope { o["envelope"] = e.json }
                    if let r = copy.deadReason { o["dead"] = .object(r) }
                    docs.append(.object(o))
                } else {
                    emit("\(id) in \(copy.role): \(copy.state)")
                    emit("  file: \(copy.path)")
                    if let r = copy.deadReason?["reason"]?.stringValue { emit("  dead: \(r)") }
                    if let e = copy.envelope {
                        emit(e.json.prettyPrinted())
                    } else {
                        emit("  (the file is not a readable envelope)")
                    }
                    emit("history:")
                    if history.isEmpty { emit("  (no journal lines)") }
                    for h in history {
                        var line = "  \(h.time)  \(h.event.rawValue)"
                        if let e = h.epoch { line += " e\(e)" }
                        line += "  by \(h.worker)"
                        if let r = h.reason { line += "  \(r)" }
                        emit(line)
                    }
                }
            }
            if json { emit(JSONValue.array(docs).prettyPrinted()) }
        }
    }
}
