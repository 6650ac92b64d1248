import ArgumentParser
import Bus
import FileFormats
import Foundation
import Launcher
import Logging
import Roles
import ServiceLifecycle

struct RoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "role",
        abstract: "Run one role process in the foreground (planbus up runs these for you).",
        discussion: """
            The process claims envelopes addressed to ROLE, heartbeats while it works, hands each to \
            the role's handler, and acks or nacks it through the fenced claim. SIGTERM or SIGINT \
            (or a stop file in the bus's ctl/ folder, as planbus down writes) stops it gracefully: it \
            stops claiming, finishes the envelope in hand within the role's stop grace or releases \
            it, marks its heartbeat stopped and exits 0.

            Settings come from the configuration's roles.ROLE section (and, for the planner, its \
            backlog); the options below override them.

            --host NAME names the host this process runs on, as PLANBUS_HOST does: its worker id, the \
            ids of the envelopes it sends, its staging files in tmp/ and its same-host liveness checks \
            all use NAME. Every role process on one machine uses the same name, and no two machines \
            sharing the bus use the same one (docs/DEPLOYMENT.md). A process under a name that is not \
            its machine's is judged by its heartbeat alone, as a remote one is.
            """
    )

    @Argument(help: "The role to run: planner, builder, verifier, judge or docs.")
    var role: String

    @Option(help: "The instance number, shown by planbus ps.")
    var instance = 0

    @Option(
        help: ArgumentHelp(
            "The name of the host this process runs on, shared by every role on it (default: PLANBUS_HOST, else this machine's name).",
            valueName: "name"))
    var host: String?

    @Option(help: "The agent to drive (default: the configuration's, else none).")
    var agent: String?

    @Option(help: "The model the agent uses (default: the configuration's).")
    var model: String?

    @Option(
        help: ArgumentHelp(
            "Everything about the role's agents as JSON: fallback, reviewer, endpoints, prices, cost limits (planbus up passes it; default: from the configuration).",
            valueName: "json"))
    var agentSettings: String?

    @Option(help: "Longest work on one envelope, such as 30m (default: the configuration's timeouts.envelope).")
    var envelopeTimeout: String?

    @Option(
        help: "After SIGTERM, time to finish the envelope in hand before releasing it (default: the configuration's).")
    var stopGrace: String?

    @Option(
        help: ArgumentHelp(
            "The planner's backlog folder: plan files dropped there are submitted once each (default: the configuration's backlog).",
            valueName: "dir"))
    var backlog: String?

    @Flag(help: "Log every claim and janitor pass.")
    var verbose = false

    @OptionGroup var busOptions: BusOptions

    func run() async throws {
        try await reportingFailures {
            if let host { try Self.name(host: host) }
            guard let product = ProductRoles.role(named: role) else {
                throw CLIFailure(
                    "no built-in role \"\(role)\" (built-in roles: \(RoleName.allCases.map(\.rawValue).joined(separator: ", "))); "
                        + "a role of another name runs its own program, set as its command in planbus.yaml",
                    code: 3)
            }
            if backlog != nil, role != RoleName.planner.rawValue {
                throw CLIFailure("--backlog is for the planner only, not \(role)", code: 64)
            }
            let timeout = try envelopeTimeout.map { text throws(FileFormatError) in try DurationText.parse(text) }
            let grace = try stopGrace.map { text throws(FileFormatError) in try DurationText.parse(text) }
            // A supervisor passes every setting, so a later edit of the file cannot change a
            // re-spawned role behind its back; by hand, the configuration fills in the rest.
            let explicit = agent != nil && timeout != nil && grace != nil && busOptions.bus != nil
            let config = explicit ? nil : try busOptions.loadConfig()
            let roleConfig = config?.role(role) ?? RoleConfig(name: role)
            let bus = try Bus.open(at: config?.bus ?? busOptions.bus!)
            var settings = RoleSettings(
                role: role, instance: instance, host: host, agent: agent ?? roleConfig.agent,
                model: model ?? roleConfig.model, envelopeTimeout: timeout ?? roleConfig.timeouts.envelope,
                stopGrace: grace ?? roleConfig.timeouts.stopGrace ?? config?.supervisor.stopGrace ?? .seconds(10))
            if settings.agent.isEmpty { settings.agent = "none" }
            guard AgentCatalog.names.contains(settings.agent) else {
                throw CLIFailure(
                    "no agent \"\(settings.agent)\" (agents: \(AgentCatalog.names.joined(separator: ", ")))", code: 64)
            }
            if let agentSettings {
                do {
                    settings.agents = try AgentSettings(json: JSONValue.parse(agentSettings))
                } catch let error as BusError {
                    throw CLIFailure("--agent-settings is not JSON: \(error.message)", code: 64)
                } catch let error as RoleError {
                    throw CLIFailure("--agent-settings: \(error.message)", code: 64)
                }
            } else {
                settings.agents = (config ?? ConfigLoader.defaults(directory: ".")).agentSettings(for: role)
            }
            // --agent and --model name the primary agent, whatever the settings say.
            if settings.agent == "none" {
                settings.agents.primary = nil
            } else if settings.agents.primary?.agent == settings.agent {
                settings.agents.primary?.model = settings.model
            } else {
                settings.agents.primary = (config ?? ConfigLoader.defaults(directory: ".")).profile(
                    agent: settings.agent, model: settings.model)
            }
            var logger = Logger(label: "planbus.\(role)")
            logger.logLevel = verbose ? .debug : .info
            let runtime = try RoleRuntime(bus: bus, settings: settings, role: product, logger: logger)
            if let file = StopFiles(layout: bus.layout).request(for: runtime.worker) {
                FileOps.standardErrorLine(
                    "planbus: \(bus.layout.ctl)/\(file) asks this role to stop (planbus down wrote it); "
                        + "planbus up removes it, or remove it by hand")
            }
            var services: [any Service] = []
            if role == RoleName.planner.rawValue {
                services.append(DeadLetterWatch(bus: bus, worker: runtime.worker, logger: logger))
            }
            if role == RoleName.planner.rawValue, let folder = backlog ?? config?.backlog {
                do throws(RoleError) {
                    services.append(
                        try BacklogService(
                            folder: BacklogFolder(path: folder), bus: bus, worker: runtime.worker, logger: logger,
                            agents: settings.agents))
                } catch {
                    throw CLIFailure(error.message, code: 1)
                }
            }
            try await runtime.run(alongside: services)
        }
    }

    /// Makes `host` this process's host name everywhere the bus uses one (``Host/name`` reads
    /// `PLANBUS_HOST` once, on first use), so the worker id, envelope ids, staging names and
    /// same-host liveness checks agree on one name, and the role's own processes inherit it.
    /// The name is reduced to the protocol's charset as every host name is (`a.example` works as
    /// `a-example`).
    static func name(host: String) throws {
        let name = Host.sanitize(host)
        setenv("PLANBUS_HOST", name, 1)
        guard Host.name == name else {
            throw CLIFailure("--host \(name) came too late: this process already works as \(Host.name)", code: 1)
        }
    }
}
