import BusTesting
import Foundation
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// A fake agent CLI for adapter tests: a POSIX shell script named like the real program, first on
/// the `PATH` of the requests it makes, that replays recorded output.
struct ScriptedAgentCLI {
    /// A temporary folder holding `bin/` (the script), `work/` (the agent's directory) and the
    /// transcript.
    let root: String
    let program: String

    var bin: String { root + "/bin" }
    var work: String { root + "/work" }
    var transcript: String { root + "/logs/transcript.log" }
    /// Where the script writes its arguments, one per line.
    var argumentsFile: String { root + "/arguments" }
    /// Where a script started by ``leavingGrandchild`` writes the grandchild's pid.
    var grandchildFile: String { root + "/grandchild.pid" }

    init(program: String) throws {
        root = FileManager.default.temporaryDirectory.path + "/planbus-agent-" + UUID().uuidString.prefix(8)
        self.program = program
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/work", withIntermediateDirectories: true)
    }

    /// The folder of an adapter's recorded fixtures.
    static func fixture(_ adapter: String, _ name: String, file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/Agents/\(adapter)/\(name)"
        )
        .path
    }

    /// Installs a script that records its arguments, prints `stdout` and `stderr` (fixture
    /// paths), runs `extra`, and exits with `exit`.
    func install(stdout: String? = nil, stderr: String? = nil, extra: String = "", exit: Int32 = 0) throws {
        var body = "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '\(argumentsFile)'\n"
        if let stdout { body += "cat '\(stdout)'\n" }
        if let stderr { body += "cat '\(stderr)' >&2\n" }
        body += extra + "\nexit \(exit)\n"
        let path = bin + "/" + program
        try body.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    /// Shell text that starts a background process that would outlive the script, its pid
    /// written to ``grandchildFile``, then waits until ``watchingGrandchild(_:)`` has seen it
    /// alive.
    var leavingGrandchild: String {
        "sleep 300 &\necho $! > '\(grandchildFile)'\nwhile [ ! -e '\(root)/seen' ]; do sleep 0.05; done"
    }

    /// Makes `call` (of a script with ``leavingGrandchild``), checking that the grandchild is alive
    /// while the call runs.
    /// - Returns: the result, whether the grandchild was seen alive during the call, and its pid.
    func watchingGrandchild(
        _ call: @escaping @Sendable () async throws -> AgentResult
    ) async throws -> (result: AgentResult, wasAlive: Bool, pid: pid_t?) {
        let running = Task { try await call() }
        let wasAlive = await eventually(timeout: .seconds(20)) { grandchild().map(Self.isAlive) ?? false }
        FileManager.default.createFile(atPath: root + "/seen", contents: nil)
        return (try await running.value, wasAlive, grandchild())
    }

    /// Shell text that hangs (until the process is killed).
    var hanging: String { "sleep 300" }

    /// A request run by the fake program.
    func request(
        prompt: String = "Add a greet function.", model: String? = nil, session: String? = nil, wantsJSON: Bool = false,
        timeout: Duration = .seconds(30)
    ) -> AgentRequest {
        AgentRequest(
            role: "builder", prompt: prompt, directory: work, model: model, timeout: timeout, resumeSession: session,
            wantsJSON: wantsJSON, transcript: transcript,
            environment: ["PATH": bin + ":/usr/bin:/bin", "HOME": root])
    }

    /// The arguments the script was last called with.
    func arguments() -> [String] {
        (try? String(contentsOfFile: argumentsFile, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    /// The pid of the grandchild the script left, when it wrote one.
    func grandchild() -> pid_t? {
        (try? String(contentsOfFile: grandchildFile, encoding: .utf8)).flatMap {
            pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Whether `pid` is still a live process (a zombie counts as gone).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// The text of a fixture.
    static func text(_ adapter: String, _ name: String, file: String = #filePath) -> String {
        (try? String(contentsOfFile: fixture(adapter, name, file: file), encoding: .utf8)) ?? ""
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}
