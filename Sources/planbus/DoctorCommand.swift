import ArgumentParser
import Bus
import Launcher

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine for what planbus needs, and say how to fix what is wrong.",
        discussion: """
            Runs these checks, one line each (ok, WARN or FAIL), with a fix: line under every \
            problem:

            configuration: planbus.yaml is found and valid (no file means the built-in defaults).
            inotify: fs.inotify.max_user_watches, max_user_instances and max_queued_events are \
            not below 8192, 128 and 16384; the fix gives the sysctl -w commands and how to keep \
            them in /etc/sysctl.d/.
            filesystem: the bus's filesystem type and the wake mode used on it. On NFS, SMB, \
            FUSE (sshfs) and other network filesystems wake: auto polls, because inotify does not \
            see other hosts' writes; wake: inotify forced on one is a failure.
            git, repository: git --version runs, and the configured repository is a git work tree.
            agents: which of claude, codex, gemini, aider and cursor-agent are on PATH. None is \
            fine (roles then run offline), but a role with instances whose agent's CLI is missing, \
            or whose openai/anthropic agent lacks OPENAI_API_KEY/ANTHROPIC_API_KEY, is a failure.
            bus: the bus exists, opens, its folders are writable, and a file can be created, \
            written, fsynced, renamed and removed in tmp/.
            disk space: at least 1 GiB free on the bus's filesystem.
            clock skew: for other hosts' running workers, their heartbeat's time minus this \
            machine's, largest per host. Within heartbeat_ms it is noise; above 1 s is a warning \
            (planbus ps ages are off by as much), above half the lease a failure. Liveness never \
            uses wall clocks. A heartbeat older than heartbeat_ms is watched for a few seconds: \
            one that is not rewritten belongs to a worker that is gone and is left out.

            --json prints {"checks": [{"name", "status", "detail", "fix"}], "ok": BOOL}. The exit \
            code is 1 when a check fails, 0 when there are only warnings.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Flag(help: "Print a JSON object with the checks and whether none failed.")
    var json = false

    func run() async throws {
        let checks = await Doctor(locator: busOptions.locator).run()
        let ok = !checks.contains { $0.status == .failure }
        if json {
            emit(JSONValue.object(["checks": .array(checks.map(\.json)), "ok": .bool(ok)]).serialized())
        } else {
            emit(Self.text(checks))
        }
        if !ok { throw ExitCode(1) }
    }

    /// The readable form: one line per check, an indented `fix:` line under each problem, then a
    /// count.
    static func text(_ checks: [DoctorCheck]) -> String {
        let width = checks.map(\.name.count).max() ?? 0
        var lines: [String] = []
        for check in checks {
            let label: String
            switch check.status {
            case .ok: label = "ok  "
            case .warning: label = "WARN"
            case .failure: label = "FAIL"
            }
            let padding = String(repeating: " ", count: width - check.name.count)
            lines.append("\(label)  \(check.name)\(padding)  \(check.detail)")
            let fixLines = check.fix.map { $0.split(separator: "\n").map(String.init) } ?? []
            for (index, line) in fixLines.enumerated() {
                lines.append("      " + (index == 0 ? "fix: " : "     ") + line)
            }
        }
        let warnings = checks.filter { $0.status == .warning }.count
        let failures = checks.filter { $0.status == .failure }.count
        lines.append(
            "\(checks.count - warnings - failures) ok, \(warnings) warning\(warnings == 1 ? "" : "s"), "
                + "\(failures) failure\(failures == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }
}
