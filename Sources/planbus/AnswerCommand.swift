import ArgumentParser
import Bus
import Foundation
import Roles

struct AnswerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answer",
        abstract: "Answer a question a role asked (planbus questions lists them).",
        discussion: """
            Claims the question from the human queue and acks it with an answer envelope to the \
            role that asked, so a question is answered exactly once: a second answer exits 4. \
            Approval requests are answered with planbus approve or reject.
            """
    )

    @Argument(help: "The question's id.")
    var questionID: String

    @Argument(help: "The answer.")
    var text: String

    @Option(help: "Who answers (default: $USER).")
    var by: String?

    @Flag(help: "Print the request id and the answer envelope as JSON.")
    var json = false

    @OptionGroup var busOptions: BusOptions

    func validate() throws {
        if text.allSatisfy(\.isWhitespace) { throw ValidationError("the answer is empty") }
        if let by, by.allSatisfy(\.isWhitespace) { throw ValidationError("--by is empty") }
    }

    func run() async throws {
        try await reportingFailures {
            guard Limits.isValidEnvelopeID(questionID) else {
                throw CLIFailure("\(questionID) is not an envelope id (planbus questions lists the ids)", code: 3)
            }
            let bus = try busOptions.open()
            let user = by ?? HumanDesk.user(environment: ProcessInfo.processInfo.environment)
            let reply = try HumanDesk(bus: bus).answer(questionID, text: text, by: user)
            if json {
                emit(JSONValue.object(["request": .string(questionID), "reply": reply.json]).serialized())
            } else {
                emit("answered \(questionID): answer \(reply.id) sent to \(reply.to) (run \(reply.run))")
            }
        }
    }
}
