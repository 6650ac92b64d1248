import ArgumentParser
import Bus
import Launcher

struct RestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Re-spawn a role's instances, optionally with another agent or model.",
        discussion: """
            --agent and --model are saved to the configuration file first (comments and layout \
            are kept). The request is the file ctl/restart.ROLE, which the supervisor on every \
            host sharing the bus acts on: it stops that role's instances gracefully (each finishes \
            or releases its envelope; one that does not is killed after its stop grace and its \
            envelope taken over through fencing) and starts them again with the configuration \
            re-read. Other roles are not touched. A failed role is revived. It waits for this \
            host's supervisor to bring the instances back.
            """
    )

    @Argument(help: "The role to restart.")
    var role: String

    @Option(help: "The agent the role drives from now on (saved to the configuration).")
    var agent: String?

    @Option(help: "The model the role's agent uses from now on (saved to the configuration).")
    var model: String?

    @OptionGroup var busOptions: BusOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            var config = try busOptions.loadConfig()
            guard config.role(role) != nil else {
                throw CLIFailure(
                    "role \(role) is not configured (configured: \(config.roles.map(\.name).joined(separator: ", ")))",
                    code: 4)
            }
            if agent != nil || model != nil {
                guard let file = config.file else {
                    throw CLIFailure(
                        "no configuration file to save --agent/--model in; create one with planbus init", code: 4)
                }
                do {
                    try ConfigEditor.setRole(role, agent: agent, model: model, inFile: file)
                    config = try busOptions.loadConfig()
                } catch let error as LauncherError {
                    throw CLIFailure(error)
                }
            }
            let bus = try busOptions.open()
            let files = SupervisorFiles(layout: bus.layout)
            let id = Timestamp.now().description + "-" + FileOps.randomHex(6)
            let body: JSONValue = [
                "id": .string(id), "role": .string(role), "requested": .string(Timestamp.now().description),
                "host": .string(Host.name),
            ]
            try FileOps.writeAtomically(
                Array((body.serialized() + "\n").utf8), to: files.restartRequest(role),
                stagingDirectory: bus.layout.tmp, mode: Bus.fileMode, durable: false)
            let roleConfig = config.role(role)!
            guard SupervisorLock.isHeld(files) else {
                throw CLIFailure(
                    "no supervisor runs for this bus on this host; the request stays in ctl/restart.\(role) for "
                        + "supervisors on other hosts\(agent != nil || model != nil ? ", and the configuration is saved" : "")",
                    code: 1)
            }
            let grace = roleConfig.timeouts.stopGrace ?? config.supervisor.stopGrace
            let end = ContinuousClock.now + grace + config.supervisor.startTimeout + .seconds(5)
            while ContinuousClock.now < end {
                if let snap = SupervisorSnapshot.read(path: files.state), snap.handledRestarts.contains(id) {
                    let instances = snap.instances.filter { $0.role == role }
                    if instances.allSatisfy({ $0.phase == "running" }) {
                        if json {
                            emit(
                                JSONValue.object([
                                    "role": .string(role), "agent": .string(roleConfig.agent),
                                    "model": roleConfig.model.map(JSONValue.string) ?? .null,
                                    "pids": .array(instances.compactMap(\.pid).map { .number(Double($0)) }),
                                ]).serialized())
                        } else {
                            emit(
                                "restarted \(role): \(instances.count) instance\(instances.count == 1 ? "" : "s") running "
                                    + "(agent \(roleConfig.agent), model \(roleConfig.model ?? "default"))")
                        }
                        return
                    }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw CLIFailure(
                "the supervisor has not brought \(role) back yet; see planbus ps and \(files.directory)/logs", code: 1)
        }
    }
}
