import Foundation
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// A fake agent CLI for adapter tests: a POSIX shell script named like the real program, in a
/// fresh temporary folder that comes first on `PATH`. The script records its arguments and
/// environment, then runs the body it is given (which replays fixture files with `cat`).
struct FakeAgentCLI {
    /// The temporary folder: the script, the transcript and the files the script writes.
    let root: String
    /// The folder the agent works in.
    let work: String

    /// Writes the script `name` running `body` (shell).
    init(_ name: String, body: String) throws {
        let template = NSTemporaryDirectory() + "planbus-agent-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw CocoaError(.fileWriteUnknown) }
        root = String(cString: bytes)
        work = root + "/work"
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            printf '%s\\n' "$@" > '\(root)/args'
            env > '\(root)/env'
            pwd > '\(root)/pwd'
            \(body)

            """
        let path = root + "/bin/" + name
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    /// A fixture file of `adapter` (`Fixtures/Agents/<adapter>/<name>`), quoted for the shell.
    static func fixture(_ adapter: String, _ name: String, file: String = #filePath) -> String {
        let folder = (file as NSString).deletingLastPathComponent
        return "'\(folder)/Fixtures/Agents/\(adapter)/\(name)'"
    }

    /// The path the script's pid file and other outputs go to.
    func path(_ name: String) -> String { root + "/" + name }

    /// The transcript path.
    var transcript: String { root + "/transcript.log" }

    /// A request running in ``work`` with the fake first on `PATH`.
    func request(
        prompt: String = "do the thing", model: String? = nil, timeout: Duration = .seconds(30),
        resume: String? = nil, wantsJSON: Bool = false, extraEnvironment: [String: String] = [:]
    ) -> AgentRequest {
        var environment = ["PATH": root + "/bin:/usr/bin:/bin", "HOME": root]
        environment.merge(extraEnvironment) { _, new in new }
        return AgentRequest(
            role: "builder", prompt: prompt, directory: work, model: model, timeout: timeout, resumeSession: resume,
            wantsJSON: wantsJSON, transcript: transcript, environment: environment)
    }

    /// The arguments the script was called with, one per line.
    var arguments: [String] {
        guard let text = try? String(contentsOfFile: root + "/args", encoding: .utf8) else { return [] }
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

    /// Shell lines starting a background `sleep` that would outlive the script, writing its pid to
    /// `$HOME/grandchild`, and `$HOME/grandchild-alive` once it is seen running.
    static let grandchild = """
        sleep 300 > /dev/null 2>&1 &
        echo $! > "$HOME/grandchild"
        kill -0 $! && : > "$HOME/grandchild-alive"
        """

    /// The pid of the grandchild started by ``grandchild``, if it was seen running.
    var runningGrandchild: Int32? {
        FileManager.default.fileExists(atPath: root + "/grandchild-alive") ? pid("grandchild") : nil
    }

    /// The pid the script wrote to `name`, if any.
    func pid(_ name: String) -> Int32? {
        guard let text = try? String(contentsOfFile: root + "/" + name, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Removes the temporary folder.
    func remove() { try? FileManager.default.removeItem(atPath: root) }
}
