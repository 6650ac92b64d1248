import ArgumentParser

struct RejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject",
        abstract: "Reject a task that waits for a person before it is integrated.",
        discussion: """
            Finds the pending approval request of TASK in RUN (the highest attempt's, if several \
            wait), claims it from the human queue and acks it with a decision envelope \
            (approved: false, with the reason) to the planner. A task is decided once: a second \
            decision exits 4.
            """
    )

    @OptionGroup var decision: DecisionOptions

    @Option(help: "Why it is rejected: the builder's next attempt gets it (required).")
    var reason: String

    func validate() throws {
        if reason.allSatisfy(\.isWhitespace) { throw ValidationError("--reason is empty: say why it is rejected") }
    }

    func run() async throws {
        try await reportingFailures { try decision.send(approved: false, reason: reason) }
    }
}
