import ArgumentParser
import Bus
import Roles

struct QuestionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "questions",
        abstract: "List what waits for a person: questions roles asked, and tasks awaiting approval.",
        discussion: """
            Reads the human queue (q/human/): the requests waiting there, oldest first, and those \
            a reply is being made for. Each shows its id, kind, run, task, attempt, who asked and \
            when, and its text: a question with its options and recommendation, or an approval \
            with the title, commit, diff and gates. Reply with planbus answer, approve or reject.
            """
    )

    @Option(help: "Only the requests of this run.")
    var run: String?

    @Flag(help: "Print a JSON object with the requests.")
    var json = false

    @OptionGroup var busOptions: BusOptions

    func run() async throws {
        try await reportingFailures {
            if let run { try Limits.checkName(run, field: "--run") }
            let bus = try busOptions.open()
            let requests = HumanDesk(bus: bus).requests(run: run)
            let now = Timestamp.now()
            if json {
                emit(
                    JSONValue.object([
                        "bus": .string(bus.layout.root), "requests": .array(requests.map { $0.json(now: now) }),
                    ]).serialized())
                return
            }
            if requests.isEmpty {
                emit("nothing waits for a person\(run.map { " in run \($0)" } ?? "") on \(bus.layout.root)")
                return
            }
            for (index, request) in requests.enumerated() {
                if index > 0 { emit("") }
                for line in request.lines(now: now) { emit(line) }
            }
        }
    }
}
