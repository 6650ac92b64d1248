import ArgumentParser
import Bus
import Foundation
import Roles

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a task that waits for a person before it is integrated.",
        discussion: """
            Finds the pending approval request of TASK in RUN (the highest attempt's, if several \
            wait), claims it from the human queue and acks it with a decision envelope \
            (approved: true) to the planner. A task is decided once: a second decision exits 4.
            """
    )

    @OptionGroup var decision: DecisionOptions

    @Option(help: "Why it is approved (optional).")
    var reason: String?

    func run() async throws {
        let reason = self.reason.flatMap { $0.allSatisfy(\.isWhitespace) ? nil : $0 }
        try await reportingFailures { try decision.send(approved: true, reason: reason) }
    }
}

/// The arguments `approve` and `reject` share, and the decision they send.
struct DecisionOptions: ParsableArguments {
    @Argument(help: "The run id.")
    var run: String

    @Argument(help: "The task id.")
    var task: String

    @Option(help: "Who decides (default: $USER).")
    var by: String?

    @Flag(help: "Print the request id and the decision envelope as JSON.")
    var json = false

    @OptionGroup var busOptions: BusOptions

    func validate() throws {
        if let by, by.allSatisfy(\.isWhitespace) { throw ValidationError("--by is empty") }
    }

    /// Sends the decision and prints what was sent.
    func send(approved: Bool, reason: String?) throws {
        try Limits.checkName(run, field: "RUN")
        try Limits.checkName(task, field: "TASK")
        let bus = try busOptions.open()
        let user = by ?? HumanDesk.user(environment: ProcessInfo.processInfo.environment)
        let decision = try HumanDesk(bus: bus).decide(
            run: run, task: task, approved: approved, reason: reason, by: user)
        let reply = decision.reply
        if json {
            emit(
                JSONValue.object([
                    "request": .string(reply.causation ?? ""), "reply": reply.json,
                    "superseded": .array(decision.superseded.map(JSONValue.string)),
                ]).serialized())
            return
        }
        var facts = ["attempt \(reply.attempt)"]
        if let candidate = reply.body["candidate"]?.intValue { facts.append("candidate \(candidate)") }
        if let commit = reply.body["commit"]?.stringValue { facts.append("commit \(commit.prefix(12))") }
        emit(
            "\(approved ? "approved" : "rejected") task \(task) of run \(run) (\(facts.joined(separator: ", "))): "
                + "decision \(reply.id) sent to \(reply.to)")
        for id in decision.superseded {
            emit("closed the older approval request \(id) of the same task without a reply")
        }
    }
}
