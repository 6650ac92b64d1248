import ArgumentParser
import Bus
import Launcher

#if canImport(Glibc)
    import Glibc
#endif

struct KillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "SIGKILL a role's processes on this host, exactly like a crash.",
        discussion: """
            For demonstrating and testing recovery: the supervisor re-spawns the instance, and the \
            envelope it held is taken over through fencing. Only processes on this host can be \
            killed; the targets are found in this host's supervisor state, else in the heartbeats.
            """
    )

    @Argument(help: "The role whose processes to kill.")
    var role: String

    @Option(help: "Kill only this instance.")
    var instance: Int?

    @OptionGroup var busOptions: BusOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let bus = try busOptions.open()
            var targets: [(instance: Int?, pid: Int32)] = []
            let files = SupervisorFiles(layout: bus.layout)
            if SupervisorLock.isHeld(files), let snap = SupervisorSnapshot.read(path: files.state) {
                for i in snap.instances where i.role == role && (instance == nil || i.instance == instance) {
                    if let pid = i.pid { targets.append((i.instance, pid)) }
                }
            }
            if targets.isEmpty {
                for w in WorkerStatus.collect(bus: bus)
                where w.role == role && w.host == Host.name && w.mark == nil && w.state != "stopped"
                    && (instance == nil || w.instance == instance)
                {
                    if let pid = w.pid { targets.append((w.instance, pid)) }
                }
            }
            guard !targets.isEmpty else {
                let which = instance.map { " instance \($0)" } ?? ""
                throw CLIFailure(
                    "no running process of role \(role)\(which) on this host (planbus ps lists them)", code: 4)
            }
            var killed: [JSONValue] = []
            for t in targets where kill(t.pid, SIGKILL) == 0 {
                killed.append(
                    .object([
                        "instance": t.instance.map { .number(Double($0)) } ?? .null, "pid": .number(Double(t.pid)),
                    ]))
                if !json { emit("killed \(role)\(t.instance.map { " instance \($0)" } ?? "") (pid \(t.pid))") }
            }
            if json { emit(JSONValue.object(["role": .string(role), "killed": .array(killed)]).serialized()) }
        }
    }
}
