import ArgumentParser
import Bus
import Foundation

struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Publish one envelope by hand.",
        discussion: """
            The body is a JSON object, given inline, as @FILE, or as @- for standard input. \
            Without --run a new run id is made and printed. The envelope is validated before \
            anything is written; an invalid one exits 3 and leaves the bus untouched.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Option(help: "The role to send to.")
    var to: String

    @Option(help: "The envelope kind, such as goal or note.")
    var kind: String

    @Option(help: "The run id (default: a new one).")
    var run: String?

    @Option(help: "The task id.")
    var task: String?

    @Option(help: "The id of the envelope this one answers.")
    var causation: String?

    @Option(help: "The application-level attempt number.")
    var attempt: Int = 1

    @Option(help: "The envelope id (default: a new one). Re-sending the same id is a duplicate.")
    var id: String?

    @Option(help: ArgumentHelp("The body: JSON text, @FILE, or @- for stdin.", valueName: "json"))
    var body: String = "{}"

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let bus = try busOptions.open()
            let text: String
            if body == "@-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else if body.hasPrefix("@") {
                let file = String(body.dropFirst())
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CLIFailure("cannot read the body file \(file)", code: 4)
                }
                text = String(decoding: data, as: UTF8.self)
            } else {
                text = body
            }
            let parsed: JSONValue
            do throws(BusError) {
                parsed = try JSONValue.parse(text, maxDepth: bus.settings.maxDepth - 1)
            } catch {
                throw CLIFailure("--body: \(error.message)", code: 3)
            }
            guard let object = parsed.objectValue else { throw CLIFailure("--body must be a JSON object", code: 3) }
            let runID = run ?? Self.newRunID()
            let worker = try WorkerID.current(role: "cli")
            let envelope = Envelope(
                id: id ?? EnvelopeID.make(), run: runID, task: task, kind: kind, from: worker, to: to,
                causation: causation, attempt: attempt, body: object)
            try envelope.validate()
            if id != nil {
                // A reused id would be dead-lettered as a duplicate by the consumer: say so now.
                let layout = bus.layout
                if FileOps.exists(layout.seen(to) + "/" + envelope.id)
                    || FileOps.exists(layout.new(to) + "/" + QueueNames.pending(id: envelope.id, epoch: 0))
                {
                    throw CLIFailure("duplicate id: \(envelope.id) was already sent to \(to)", code: 3)
                }
            }
            if !FileOps.isDirectory(bus.layout.queue(to)) {
                FileOps.standardErrorLine("planbus: note: \(to) had no queue on this bus; created q/\(to)/")
            }
            let receipt = try Publisher(bus: bus, worker: worker).publish(envelope)
            if json {
                emit(
                    JSONValue.object(["id": .string(receipt.id), "run": .string(runID), "path": .string(receipt.path)])
                        .serialized())
            } else {
                emit("sent \(receipt.id) to \(to) (run \(runID))")
            }
        }
    }

    static func newRunID() -> String {
        let now = Timestamp.now()
        let d = now.description
        let compact = d.prefix(19).filter { $0.isNumber }
        return "r" + compact.prefix(8) + "-" + compact.dropFirst(8) + "-"
            + String(UInt32.random(in: 0...0xFFFF), radix: 16)
    }
}
