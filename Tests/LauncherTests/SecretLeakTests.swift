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

    /// The values of `values` that `text` holds.
    static func leaks(inText text: String, of values: [String]) -> [String] { values.filter { text.contains($0) } }

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

    /// The value of the agents' key variable, `LLM_ACCESS`: a name that does not look secret, and
    /// a value no pattern knows, so only the configuration says it is a key.
    static let accessKey = "PLANTEDllmAccess0123456789"

    /// A fake `claude` (Python, so that its JSON is well formed): its live transcript (stream-json
    /// lines and stderr) and its final text carry every planted credential and the value of
    /// `LLM_ACCESS`, as JSON escapes them; asked to "commit the keys", it writes them to
    /// `leak/keys.env`, otherwise it writes `out/agent.txt`.
    static var fakeClaude: String {
        let planted = secrets.map { "\"\($0)\"" }.joined(separator: ", ")
        return #"""
            #!/usr/bin/python3
            import json, os, sys
            S = [\#(planted)]
            prompt = sys.argv[-1]
            key = os.environ.get("LLM_ACCESS", "")
            leak = "\n".join([
                "ANTHROPIC=" + S[0], "token " + S[3], "DB_PASSWORD=" + S[4], "Authorization: Bearer " + S[5],
                "-----BEGIN RSA PRIVATE KEY-----", S[7], "-----END RSA PRIVATE KEY-----",
                "LLM_ACCESS=" + key, "the access value is " + key + "."])
            def out(o):
                print(json.dumps(o), flush=True)
            out({"type": "system", "subtype": "init", "session_id": "s-leak", "model": "claude-sonnet-4-5"})
            out({"type": "assistant", "message": {"content": [{"type": "text", "text": leak}]}})
            out({"type": "assistant", "message": {"content": [{"type": "tool_use", "name": "Bash",
                 "input": {"command": "curl -H 'Authorization: Bearer " + S[5] + "' -d db_password=" + S[4]},
                 "env": {"db_password": S[4], "LLM_ACCESS": key}}]}})
            sys.stderr.write("warning: DB_PASSWORD=" + S[4] + " " + key + "\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
                             + S[7] + "\n-----END OPENSSH PRIVATE KEY-----\n")
            sys.stderr.flush()
            if "commit the keys" in prompt:
                os.makedirs("leak", exist_ok=True)
                with open("leak/keys.env", "w") as f:
                    f.write('ANTHROPIC_KEY="' + S[0] + '"\nGITHUB="' + S[3] + '"\n-----BEGIN RSA PRIVATE KEY-----\n'
                            + S[7] + "\n-----END RSA PRIVATE KEY-----\n")
                changed = "leak/keys.env"
            else:
                os.makedirs("out", exist_ok=True)
                with open("out/agent.txt", "w") as f:
                    f.write("done\n")
                changed = "out/agent.txt"
            out({"type": "result", "subtype": "success", "is_error": False, "session_id": "s-leak",
                 "result": "Done.\n" + leak + "\nSTEP REPORT\n- changed: " + changed + "\n- open: " + key,
                 "total_cost_usd": 0.01, "usage": {"input_tokens": 10, "output_tokens": 5}})
            """#
    }

    @Test(
        "an agent builder's transcript, final text and prompt, a gate of an offline role, and the secret check's finding leak no credential and no configured key"
    )
    func agentRun() async throws {
        let scratch = FileManager.default.temporaryDirectory.path + "/planbus-leak-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let claude = scratch + "/claude"
        try Self.fakeClaude.write(toFile: claude, atomically: true, encoding: .utf8)
        chmod(claude, 0o755)
        // Every role has the key in its environment (as when it is exported before planbus up);
        // only the builder's agent names it. The verifier, offline, runs a gate that prints it.
        let env = "    env: {LLM_ACCESS: \(Self.accessKey)}"
        let session = try await SessionFixture(
            roles: """
                  planner:
                \(env)
                  builder:
                    agent: claude
                \(env)
                  verifier:
                \(env)
                  judge:
                \(env)
                  docs:
                \(env)
                """,
            settings: """
                agents:
                  claude: {executable: \(claude), api_key_env: LLM_ACCESS}
                """)
        let root = session.root
        let git = try await Git.create(at: root + "/repo", files: [("README", "start\n")], message: "start")
        try """
        version: 1
        name: agent-secrets
        goal: an agent that sees credentials
        risk: low
        repository: repo
        max_attempts: 1
        gates:
          - name: env
            command: [sh, -c, "printenv LLM_ACCESS; echo \\"access=$LLM_ACCESS\\""]
        tasks:
          - id: talk
            title: an agent that prints credentials
            prompt: |
              Write out/agent.txt. Use the access value \(Self.accessKey) and DB_PASSWORD=\(Self.secrets[4]).
            scope: ["out/**"]
          - id: commit
            title: an agent that commits credentials
            prompt: commit the keys to leak/keys.env
            scope: ["leak/**"]
        """.write(toFile: root + "/plan.yaml", atomically: true, encoding: .utf8)

        let up = try session.up()
        defer { up.send(SIGTERM) }
        // submit knows the configured key variable too: the plan's copy of the key is redacted.
        var environment = ProcessInfo.processInfo.environment
        environment["LLM_ACCESS"] = Self.accessKey
        let submitted = try await runCommand(
            [Executables.planbus, "submit", "plan.yaml", "--run", "a1", "--config", session.config],
            environment: environment, directory: root)
        #expect(submitted.code == 0, "\(submitted.stdout)\n\(submitted.stderr)")
        let layout = session.bus.layout
        let status = layout.run("a1") + "/status.json"
        #expect(
            await eventually(timeout: .seconds(180)) {
                FileManager.default.contents(atPath: status).flatMap { try? JSONValue.parse(Array($0)) }?["finished"]
                    == .bool(true)
            })
        #expect(
            await eventually(timeout: .seconds(60)) {
                FileManager.default.fileExists(atPath: layout.run("a1") + "/HANDOFF.md")
            })
        let final = try JSONValue.parse(String(contentsOfFile: status, encoding: .utf8))
        let states = Dictionary(
            uniqueKeysWithValues: (final["tasks"]?.arrayValue ?? []).compactMap { task in
                task["id"]?.stringValue.map { ($0, task) }
            })
        #expect(states["talk"]?["state"] == "integrated", "\(states["talk"] ?? .null)")
        #expect(try await git.run(["show", "\(RunMessages.integrationBranch("a1")):out/agent.txt"]) == "done")

        // The agent ran and its words are on the bus, redacted: the live transcript, its stderr,
        // the step report and the saved prompt.
        let attempt = layout.run("a1") + "/talk/1"
        let transcript = try String(contentsOfFile: attempt + "/builder.log", encoding: .utf8)
        #expect(transcript.contains("s-leak") && transcript.contains(Redactor.mark), "\(transcript)")
        #expect(transcript.contains("\"LLM_ACCESS\": \"\(Redactor.mark)\""), "\(transcript)")
        let report = try String(contentsOfFile: attempt + "/step-report.md", encoding: .utf8)
        #expect(
            report.contains("the access value is \(Redactor.mark).") && report.contains("DB_PASSWORD="), "\(report)")
        let prompt = try String(contentsOfFile: attempt + "/builder.log.prompt.md", encoding: .utf8)
        #expect(prompt.contains("Write out/agent.txt. Use the access value"), "\(prompt)")
        // The offline verifier's gate printed the key, which its log hides.
        let gateLogs = (try? FileManager.default.subpathsOfDirectory(atPath: attempt))?.filter {
            $0.hasSuffix("env.log")
        }
        let gateLog = try String(contentsOfFile: attempt + "/" + #require(gateLogs?.first), encoding: .utf8)
        #expect(gateLog.contains("access=" + Redactor.mark), "\(gateLog)")

        // The change that commits credentials is rejected by the secret check, each shown masked.
        #expect(states["commit"]?["state"] == "failed", "\(states["commit"] ?? .null)")
        let reason = states["commit"]?["reason"]?.stringValue ?? ""
        #expect(reason.contains("leak/keys.env"), "\(reason)")
        // The verdict the planner took names each credential by its first 4 characters.
        let done = layout.done("planner")
        let verdict = ((try? FileManager.default.subpathsOfDirectory(atPath: done)) ?? []).compactMap { path in
            FileManager.default.contents(atPath: done + "/" + path).flatMap { try? Envelope(decoding: Array($0)) }
        }.first { $0.kind == RunMessages.verdict && $0.task == "commit" }
        let findings = (try #require(verdict)).body["findings"].map { $0.serialized() } ?? ""
        #expect(findings.contains("leak/keys.env:1: "), "\(findings)")
        #expect(findings.contains(String(Self.secrets[0].prefix(4)) + "*"), "\(findings)")
        #expect(findings.contains(String(Self.secrets[3].prefix(4)) + "*"), "\(findings)")

        up.send(SIGTERM)
        _ = await up.wait(timeout: .seconds(30))
        #expect(Self.leaks(in: layout.root, of: Self.secrets + [Self.accessKey]) == [])
    }

    @Test("credentials as a JSON line of a transcript holds them: escaped, as members, after an escaped newline")
    func jsonForms() {
        let key = #"PLANTED/slash"quote\back"#
        let redactor = Redactor(environment: ["LLM_ACCESS": key, "HOME": "/root/home/dir"], keys: ["LLM_ACCESS"])
        let line = JSONValue.object([
            "text": .string("first\nDB_PASSWORD=\(Self.secrets[4])\n\(key)"), "db_password": .string(Self.secrets[4]),
        ]).serialized()
        let redacted = redactor.redact(line)
        #expect(!redacted.contains(Self.secrets[4]) && !redacted.contains("PLANTED"), "\(redacted)")
        // Slashes escaped, as some encoders write them.
        let slashed = line.replacingOccurrences(of: "/", with: "\\/")
        #expect(!redactor.redact(slashed).contains("PLANTED"), "\(redactor.redact(slashed))")
        // A private key block inside a line: what stands before it on the line is redacted too.
        let block = JSONValue.object([
            "text": .string("DB_PASSWORD=\(Self.secrets[4])\n\(Self.leakingLines.joined(separator: "\n"))")
        ]).serialized()
        #expect(Self.leaks(inText: redactor.redact(block), of: Self.secrets) == [], "\(redactor.redact(block))")
        // Numbers of members whose names merely contain "token" are kept.
        let usage = #"{"usage":{"input_tokens":900,"output_tokens":120},"home":"/root/home/dir"}"#
        #expect(redactor.redact(usage) == usage)
        // A key variable's value is hidden only when the variable is named as a key.
        #expect(Redactor(environment: ["LLM_ACCESS": key]).redact(key) == key)
    }
}
