import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Credentials planted everywhere a run reads or prints: a file of the repository the task reads,
/// the plan's prompt, a build step's output, a gate's output, a step's question and a person's
/// answer, and the role's key variable. The run goes to its end under `planbus up`; then no file
/// under the bus (envelopes, journal, logs, status, handoff, changelog, evidence) holds any of
/// them, and a change that adds one is rejected by the secret check with the value masked.
@Suite("Secret leaks", .serialized)
struct SecretLeakTests {
    /// The planted values; each must never be written to the bus.
    static let secrets = [
        "sk-ant-api03-PLANTEDa1b2c3d4e5f6g7h8i9j0", "sk-PLANTEDopenai0123456789abcdefXYZ",
        "AKIAPLANTED012345678", "ghp_PLANTEDgithub0123456789abcdefghijklmn", "PLANTEDdbPassw0rd42",
        "PLANTEDbearer0123456789token", "PLANTEDkeyInTheEnvironment77", "MIIEPLANTEDprivateKeyBody0123",
    ]

    /// The lines that carry them, as a file, a step or a gate would print them.
    static var leakingLines: [String] {
        [
            "ANTHROPIC=\(secrets[0])", "openai: \(secrets[1])", "aws \(secrets[2])", "token \(secrets[3])",
            "DB_PASSWORD=\(secrets[4])", "curl -H 'Authorization: Bearer \(secrets[5])'",
            "-----BEGIN RSA PRIVATE KEY-----", secrets[7], "-----END RSA PRIVATE KEY-----",
        ]
    }

    /// Every file under `folder` holding one of `values`, with the values found.
    static func leaks(in folder: String, of values: [String]) -> [String] {
        let paths = (try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? []
        return paths.compactMap { path in
            guard let data = FileManager.default.contents(atPath: folder + "/" + path) else { return nil }
            let text = String(decoding: data, as: UTF8.self)
            let found = values.filter { text.contains($0) }
            return found.isEmpty ? nil : "\(path): \(found.joined(separator: ", "))"
        }
    }

    @Test("credentials in the repository, the plan, a step, a gate and an answer never reach the bus")
    func offlineRun() async throws {
        let session = try await SessionFixture(
            roles: """
                  planner:
                  builder:
                    env: {PLANBUS_API_KEY: \(Self.secrets[6])}
                  verifier:
                    env: {PLANBUS_API_KEY: \(Self.secrets[6])}
                  judge:
                  docs:
                """)
        let root = session.root
        let env = Self.leakingLines.joined(separator: "\n") + "\n"
        let git = try await Git.create(
            at: root + "/repo", files: [("README", "start\n"), ("config/app.env", env)], message: "start")
        let answer = root + "/question.txt"
        try "Which token? \(Self.secrets[3])\n".write(toFile: answer, atomically: true, encoding: .utf8)
        try """
        version: 1
        name: secrets
        goal: use the configuration without leaking it
        risk: low
        repository: repo
        max_attempts: 1
        gates:
          - name: show
            command: [sh, -c, "cat config/app.env; printenv PLANBUS_API_KEY"]
        tasks:
          - id: read
            title: read the configuration
            prompt: |
              Read config/app.env. The key is \(Self.secrets[0]) and the token \(Self.secrets[3]).
              Authorization: Bearer \(Self.secrets[5])
            scope: ["out/**"]
            run: cat config/app.env; printenv PLANBUS_API_KEY; mkdir -p out && echo ok > out/read.txt
          - id: ask
            title: ask for a token
            prompt: ask
            scope: ["out/ask/**"]
            run: |
              if [ ! -s "$PLANBUS_ANSWERS" ]; then cp '\(answer)' "$PLANBUS_QUESTION"; exit 0; fi
              cat "$PLANBUS_ANSWERS"; mkdir -p out/ask && echo answered > out/ask/a.txt
          - id: leak
            title: commit a credential
            prompt: add the configuration
            scope: ["leak/**"]
            run: mkdir -p leak && cp config/app.env leak/app.env
        """.write(toFile: root + "/plan.yaml", atomically: true, encoding: .utf8)

        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submitted = try await session.planbus("submit", "plan.yaml", "--run", "s1")
        #expect(submitted.code == 0, "\(submitted.stdout)\n\(submitted.stderr)")
        let layout = session.bus.layout
        var asked: String?
        #expect(
            await eventually(timeout: .seconds(120)) {
                asked =
                    RunMessages.pending(kind: RunMessages.question, role: RunMessages.human, run: "s1", layout: layout)
                    .first?.id
                return asked != nil
            })
        let answered = try await session.planbus(
            "answer", try #require(asked), "use \(Self.secrets[3]) with DB_PASSWORD=\(Self.secrets[4])")
        #expect(answered.code == 0, "\(answered.stderr)")
        let status = layout.run("s1") + "/status.json"
        #expect(
            await eventually(timeout: .seconds(120)) {
                FileManager.default.contents(atPath: status).flatMap { try? JSONValue.parse(Array($0)) }?["finished"]
                    == .bool(true)
            })
        #expect(
            await eventually(timeout: .seconds(60)) {
                FileManager.default.fileExists(atPath: layout.run("s1") + "/HANDOFF.md")
            })
        let final = try JSONValue.parse(String(contentsOfFile: status, encoding: .utf8))
        let states = Dictionary(
            uniqueKeysWithValues: (final["tasks"]?.arrayValue ?? []).compactMap { task in
                task["id"]?.stringValue.map { ($0, task) }
            })
        #expect(states["read"]?["state"] == "integrated", "\(states["read"] ?? .null)")
        #expect(states["ask"]?["state"] == "integrated", "\(states["ask"] ?? .null)")
        // The change that adds credentials is rejected by the secret check, its values masked.
        #expect(states["leak"]?["state"] == "failed", "\(states["leak"] ?? .null)")
        let reason = states["leak"]?["reason"]?.stringValue ?? ""
        #expect(reason.contains("secret"), "\(reason)")
        // The run read them: the builder's log and the gate's show the lines, redacted.
        let log = try String(contentsOfFile: layout.run("s1") + "/read/1/builder.log", encoding: .utf8)
        #expect(log.contains("DB_PASSWORD=") && log.contains(Redactor.mark), "\(log)")
        #expect(try await git.run(["show", "\(RunMessages.integrationBranch("s1")):out/read.txt"]) == "ok")

        up.send(SIGTERM)
        _ = await up.wait(timeout: .seconds(30))
        #expect(Self.leaks(in: layout.root, of: Self.secrets) == [])
    }
}
