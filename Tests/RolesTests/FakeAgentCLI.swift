import BusTesting
import Foundation
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// A fake agent CLI for adapter tests: a POSIX shell script named like the real program, in a
/// fresh temporary folder whose `bin/` comes first on the `PATH` of its requests. The script
/// records its arguments, environment and working folder, then runs its body (which replays
/// fixture files with `cat`).
struct FakeAgentCLI {
    /// The temporary folder: `bin/` (the script), `work/` (the agent's folder), the transcript and
    /// the files the script writes.
    let root: String
    /// The name of the script.
    let program: String

    var bin: String { root + "/bin" }
    var work: String { root + "/work" }
    var transcript: String { root + "/transcript.log" }
    /// Where the script writes its arguments, one per line.
    var argumentsFile: String { root + "/args" }
    /// Where a script with ``leavingGrandchild`` writes the grandchild's pid.
    var grandchildFile: String { root + "/grandchild" }

    /// Makes the folders for a script named `program`, not yet installed.
    init(program: String) throws {
        let template = NSTemporaryDirectory() + "planbus-agent-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw CocoaError(.fileWriteUnknown) }
        root = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.program = program
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/work", withIntermediateDirectories: true)
    }

    /// A second script in the folders of another fake (a fallback agent beside the primary).
    init(root: String, program: String) {
        self.root = root
        self.program = program
    }

    /// Writes the script `program` running `body` (shell).
    init(_ program: String, body: String) throws {
        try self.init(program: program)
        try install(body: body)
    }

    /// Installs the script: it records its arguments, environment and folder, then runs `body`.
    func install(body: String) throws {
        let script = """
            #!/bin/sh
            printf '%s\\n' "$@" > '\(argumentsFile)'
            env > '\(root)/env'
            pwd > '\(root)/pwd'
            \(body)

            """
        // Written through a close-on-exec descriptor, so that a process started meanwhile by
        // another test does not hold it open for writing, which would make running it fail
        // with "Text file busy".
        let fd = open(bin + "/" + program, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        let bytes = Array(script.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw CocoaError(.fileWriteUnknown) }
    }

    /// Installs a script that prints `stdout` and `stderr` (fixture paths), runs `extra`, and
    /// exits with `exit`.
    func install(stdout: String? = nil, stderr: String? = nil, extra: String = "", exit: Int32 = 0) throws {
        var body = ""
        if let stdout { body += "cat '\(stdout)'\n" }
        if let stderr { body += "cat '\(stderr)' >&2\n" }
        try install(body: body + extra + "\nexit \(exit)")
    }

    /// The path of a fixture file of `adapter` (`Fixtures/Agents/<adapter>/<name>`).
    static func fixture(_ adapter: String, _ name: String, file: String = #filePath) -> String {
        let folder = (file as NSString).deletingLastPathComponent
        return "\(folder)/Fixtures/Agents/\(adapter)/\(name)"
    }

    /// A fixture path of `adapter`, quoted for the shell.
    static func quotedFixture(_ adapter: String, _ name: String, file: String = #filePath) -> String {
        "'\(fixture(adapter, name, file: file))'"
    }

    /// The text of a fixture.
    static func text(_ adapter: String, _ name: String, file: String = #filePath) -> String {
        (try? String(contentsOfFile: fixture(adapter, name, file: file), encoding: .utf8)) ?? ""
    }

    /// The path the script's pid file and other outputs go to.
    func path(_ name: String) -> String { root + "/" + name }

    /// A request running in ``work`` with the fake first on `PATH`.
    func request(
        prompt: String = "do the thing", model: String? = nil, timeout: Duration = .seconds(30),
        resume: String? = nil, wantsJSON: Bool = false, extraEnvironment: [String: String] = [:]
    ) -> AgentRequest {
        var environment = ["PATH": bin + ":/usr/bin:/bin", "HOME": root]
        environment.merge(extraEnvironment) { _, new in new }
        return AgentRequest(
            role: "builder", prompt: prompt, directory: work, model: model, timeout: timeout, resumeSession: resume,
            wantsJSON: wantsJSON, transcript: transcript, environment: environment)
    }

    /// The arguments the script was called with, one per line.
    var arguments: [String] {
        guard let text = try? String(contentsOfFile: argumentsFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// The environment the script saw.
    var environment: [String: String] {
        guard let text = try? String(contentsOfFile: root + "/env", encoding: .utf8) else { return [:] }
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            result[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return result
    }

    /// Shell text that starts a background process that would outlive the script, its pid
    /// written to ``grandchildFile``, then waits until ``watchingGrandchild(_:)`` has seen it
    /// alive.
    var leavingGrandchild: String {
        "sleep 300 > /dev/null 2>&1 &\necho $! > '\(grandchildFile)'\n"
            + "while [ ! -e '\(root)/seen' ]; do sleep 0.05; done"
    }

    /// Shell text that hangs (until the process is killed).
    var hanging: String { "sleep 300" }

    /// Makes `call` (of a script with ``leavingGrandchild``), checking that the grandchild is alive
    /// while the call runs.
    /// - Returns: the result, whether the grandchild was seen alive during the call, and its pid.
    func watchingGrandchild<Result: Sendable>(
        _ call: @escaping @Sendable () async throws -> Result
    ) async throws -> (result: Result, wasAlive: Bool, pid: pid_t?) {
        let running = Task { try await call() }
        let wasAlive = await eventually { grandchild().map(Self.isAlive) ?? false }
        _ = FileManager.default.createFile(atPath: root + "/seen", contents: nil)
        return (try await running.value, wasAlive, grandchild())
    }

    /// The pid of the grandchild the script left, when it wrote one.
    func grandchild() -> pid_t? { pid("grandchild") }

    /// The pid the script wrote to `name`, if any.
    func pid(_ name: String) -> Int32? {
        guard let text = try? String(contentsOfFile: root + "/" + name, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
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

    /// Removes the temporary folder.
    func remove() { try? FileManager.default.removeItem(atPath: root) }
}
