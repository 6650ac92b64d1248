import ArgumentParser
import Bus
import Foundation
import Launcher

struct DemoRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a plan end to end on a scratch project, offline, and check that every stage happened.",
        discussion: """
            Creates a scratch folder (--dir, else a new folder under the system's temporary \
            folder) holding a small shell project in a git repository (repo/), a planbus.yaml \
            (planner, two builders, verifier, judge, docs), a plan (plan.yaml) and a bus (bus/). \
            It starts the roles as planbus up does, waits until every role heartbeats, submits the \
            plan, prints each task's state as it changes, then the run's log, its status and the \
            path of HANDOFF.html, and stops the roles (--keep leaves them running).

            The plan builds independent tasks in parallel, releases a dependent task once its \
            dependency is integrated, retries a task rejected by a gate with the verifier's \
            feedback, rejects a change outside its scope, lets the judge pick between two \
            candidates, and ends with the handoff. Each of these is then checked from the bus and \
            git, one line per scenario with its evidence; the exit code is 1 when a check fails. \
            The folder is left in place for planbus log, status and show (with --config).

            """
    )

    @Option(help: ArgumentHelp("The scratch folder: new or empty (default: a new temporary folder).", valueName: "dir"))
    var dir: String?

    @Flag(help: "Leave the roles running after the run (planbus down --config DIR/planbus.yaml stops them).")
    var keep = false

    @Flag(help: "Print a JSON summary instead of the text: the folder, the run, each check and its evidence.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let folder: String
            if let dir {
                folder =
                    dir.hasPrefix("/")
                    ? dir : FileManager.default.currentDirectoryPath + "/" + dir
            } else {
                folder =
                    FileManager.default.temporaryDirectory.path + "/planbus-demo-"
                    + UUID().uuidString.prefix(8).lowercased()
            }
            let quiet = json
            let driver = DemoDriver(
                project: DemoProject(folder: (folder as NSString).standardizingPath), executable: UpCommand.executable,
                keepRoles: keep
            ) { line in
                if !quiet { emit(line) }
            }
            let outcome = try await driver.run()
            if json { emit(outcome.json.serialized()) }
            if !outcome.passed {
                let failed = outcome.scenarios.filter { !$0.passed }.map(\.title)
                throw CLIFailure("these checks failed: \(failed.joined(separator: "; "))", code: 1)
            }
        }
    }
}
