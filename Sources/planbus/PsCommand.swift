import ArgumentParser
import Bus
import Launcher

struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List every worker seen on the bus, local or remote.",
        discussion: """
            One line per heartbeat file, plus instances a supervisor is starting or backing off. \
            MARK says what is wrong: dead (on this host, its process is gone), stale (on another \
            host, its heartbeat is older than the lease), hung (its supervisor is replacing it), \
            failed (its role hit the restart intensity). A worker that met a rate or usage limit shows \
            STATE "backoff until <time>": it claims nothing before then (--json: backoff_until, \
            backoff_reason). Heartbeat age is measured with this \
            machine's clock, so another host's clock skew shows in it (planbus doctor measures it).
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Flag(help: "Print a JSON object with the workers and supervisors.")
    var json = false

    @Flag(help: "Hide workers whose heartbeat says stopped.")
    var running = false

    func run() async throws {
        try await reportingFailures {
            let bus = try busOptions.open()
            var rows = WorkerStatus.collect(bus: bus)
            if running { rows = rows.filter { $0.state != "stopped" } }
            let supervisors = SupervisorSnapshot.all(layout: bus.layout).filter { $0.isCurrent(layout: bus.layout) }
            if json {
                emit(
                    JSONValue.object([
                        "bus": .string(bus.layout.root),
                        "workers": .array(rows.map(\.json)),
                        "supervisors": .array(
                            supervisors.map {
                                .object([
                                    "host": .string($0.host), "pid": .number(Double($0.pid)),
                                    "state": .string($0.state), "started": .string($0.started.description),
                                    "failed_roles": .array($0.failedRoles.map(JSONValue.string)),
                                ])
                            }),
                    ]).serialized())
                return
            }
            if rows.isEmpty {
                emit("no workers have heartbeated on \(bus.layout.root) (start them with planbus up)")
                return
            }
            let header = [
                "ROLE", "INST", "HOST", "PID", "STATE", "MODEL", "ENVELOPE", "HB AGE", "RESTARTS", "MARK",
            ]
            let cells = rows.map { r -> [String] in
                [
                    r.role, r.instance.map { "\($0)" } ?? "-", r.host, r.pid.map { "\($0)" } ?? "-", r.stateText,
                    r.model ?? "-", r.envelope ?? "-",
                    r.heartbeatAgeMs.map { age in age < 0 ? "0.0s" : "\(Double(age / 100) / 10)s" } ?? "-",
                    r.restarts.map { "\($0)" } ?? "-", r.mark.map { $0.uppercased() } ?? "",
                ]
            }
            emit(TextTable.format([header] + cells))
            for s in supervisors {
                emit("supervisor on \(s.host): pid \(s.pid), \(s.state) since \(s.started)")
            }
        }
    }
}
