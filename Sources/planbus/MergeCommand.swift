import ArgumentParser
import Bus
import Foundation
import Roles

struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fast-forward the plan's base branch to a run's integration branch, if the smoke gates pass.",
        discussion: """
            The only command that changes your base branch. It runs the plan's smoke gates again on \
            the integration branch (planbus/RUN/integration), in a work tree of its own, with their \
            logs under the run folder, and fast-forwards the base branch only if every gate \
            passes. When the base branch is checked out, it is moved with git merge --ff-only, \
            which refuses to overwrite local changes. A base branch that moved since the run \
            started is not fast-forwardable: the command says so and changes nothing. Exit codes: \
            0 merged, 1 refused (a smoke gate failed, or not a fast-forward), 4 no such run.
            """
    )

    @Argument(help: "The run to merge.")
    var run: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var busOptions: BusOptions

    func run() async throws {
        try await reportingFailures {
            let bus = try busOptions.open()
            let outcome: RunMerge.Outcome
            do {
                let plan = try RunMessages.plan(of: run, layout: bus.layout)
                outcome = try await RunMerge(plan: plan, run: run, layout: bus.layout).merge()
                if json { emit(outcome.json.serialized()) }
                if let merged = outcome.merged {
                    if !json {
                        emit(
                            "\(plan.baseBranch) fast-forwarded to \(merged) (\(outcome.gates.count) smoke gate"
                                + (outcome.gates.count == 1 ? "" : "s") + " passed)"
                        )
                    }
                    return
                }
            } catch let error as RoleError {
                throw CLIFailure(
                    error.message, code: error.code == .notFound ? 4 : (error.code == .invalidPlan ? 3 : 1))
            }
            throw CLIFailure(outcome.refusal ?? "not merged", code: 1)
        }
    }
}
