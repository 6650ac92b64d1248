import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A whole run with agents: the builder drives a fake `claude` CLI, the verifier reviews through
/// the OpenAI API (a local HTTP stub), the docs role writes prose with a `command` agent; every
/// role a real process under `planbus up`, on a real git repository.
@Suite("Agent run")
struct AgentRunTests {
    @Test(
        "claude builds after waiting out its usage limit, the OpenAI stub reviews, docs writes prose; planbus usage shows the numbers"
    )
    func agentRun() async throws {
        let scratch = FileManager.default.temporaryDirectory.path + "/planbus-agentrun-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: scratch + "/bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // The reviewer: one chat completion approving, with tokens but no cost (gpt-4o is priced).
        let review = #"{\"approved\": true, \"issues\": [], \"followups\": []}"#
        try """
        {"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"\(review)"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2000,"completion_tokens":100,"total_tokens":2100}}
        """.write(toFile: scratch + "/review.json", atomically: true, encoding: .utf8)
        let stub = try await HTTPStub([(status: 200, file: scratch + "/review.json", headers: [:], delay: 0)])
        defer { Task { await stub.stop() } }

        // claude: the first call hits the usage limit (it resets 5 s later); later calls write the
        // file and report their cost. Each call is counted in calls.txt.
        let claude = scratch + "/bin/claude"
        try """
        #!/bin/sh
        echo call >> '\(scratch)/calls.txt'
        if [ "$(wc -l < '\(scratch)/calls.txt')" -eq 1 ]; then
          reset=$(( $(date +%s) + 5 ))
          echo '{"type":"system","subtype":"init","session_id":"s-limited"}'
          echo "{\\"type\\":\\"result\\",\\"subtype\\":\\"success\\",\\"is_error\\":true,\\"result\\":\\"Claude AI usage limit reached|$reset\\"}"
          exit 0
        fi
        echo 'hello from the agent' > greeting.txt
        echo '{"type":"system","subtype":"init","session_id":"s-work","model":"claude-sonnet-4-5"}'
        printf '%s\\n' '{"type":"result","subtype":"success","is_error":false,"result":"Wrote greeting.txt.\\nSTEP REPORT\\n- changed: greeting.txt\\n- checked: cat greeting.txt\\n- open: nothing","session_id":"s-work","total_cost_usd":0.0123,"usage":{"input_tokens":900,"output_tokens":120,"cache_read_input_tokens":3000,"cache_creation_input_tokens":0}}'

        """.write(toFile: claude, atomically: true, encoding: .utf8)
        chmod(claude, 0o755)
        // docs: a command agent answering plain text.
        let writer = scratch + "/bin/writer"
        try "#!/bin/sh\necho 'Adds a greeting file for new users.'\n".write(
            toFile: writer, atomically: true, encoding: .utf8)
        chmod(writer, 0o755)

        let session = try await SessionFixture(
            roles: """
                  planner:
                  builder:
                    agent: claude
                    model: claude-sonnet-4
                  verifier:
                    agent: openai
                    model: gpt-4o
                    env: {PLANBUS_E2E_KEY: sk-e2e-0123456789abcdef}
                  judge:
                  docs:
                    agent: command
                """,
            settings: """
                agents:
                  claude: {executable: \(claude)}
                  openai: {base_url: "\(stub.baseURL.absoluteString)/v1", api_key_env: PLANBUS_E2E_KEY}
                  command: {argv: [\(writer), "{prompt_file}"], output: text}
                """)
        let git = try await Git.create(at: session.root + "/repo", files: [("README", "start\n")], message: "start")
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: greet
        goal: greet new users
        risk: low
        repository: repo
        tasks:
          - id: greeting
            title: add greeting.txt
            prompt: Create greeting.txt saying hello.
            scope: [greeting.txt]
            gates:
              - name: there
                command: [grep, -q, hello, greeting.txt]
        """.write(toFile: plan, atomically: true, encoding: .utf8)

        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submitted = try await session.planbus("submit", plan, "--wait", "--json", "--run", "ag1")
        #expect(submitted.code == 0, "\(submitted.stdout)\n\(submitted.stderr)")
        // While the builder waited, submit --wait said so.
        #expect(
            submitted.stderr.split(separator: "\n").contains {
                $0.hasPrefix("builder ") && $0.contains(" waits until ") && $0.contains("rate-limited")
            }, "\(submitted.stderr)")

        let layout = session.bus.layout
        let status = try JSONValue.parse(String(contentsOfFile: layout.run("ag1") + "/status.json", encoding: .utf8))
        let task = status["tasks"]?.arrayValue?.first
        #expect(task?["state"] == "integrated", "\(task?["reason"]?.stringValue ?? "")")
        // The planner counts the builder's cost (relayed in the verdict) and the review's.
        #expect(status["cost_usd_by_role"]?["builder"] == .number(0.0123))
        if case .number(let verifierCost)? = status["cost_usd_by_role"]?["verifier"] {
            #expect(abs(verifierCost - 0.006) < 1e-9)
        } else {
            Issue.record("no verifier cost in status.json: \(status["cost_usd_by_role"] ?? .null)")
        }
        let integrated = try await git.run(["show", "\(RunMessages.integrationBranch("ag1")):greeting.txt"])
        #expect(integrated.contains("hello from the agent"))

        // The limit: claude was called twice; the first call's limit went on the quota board and
        // the build envelope was handed back until then (a release with a not-before time), not
        // counted as a failure.
        #expect(lines(of: scratch + "/calls.txt").count == 2)
        let quota = try JSONValue.parse(try String(contentsOfFile: layout.root + "/quota/claude.json", encoding: .utf8))
        #expect(quota["provider"] == "claude")
        let events = JournalReader(layout: layout).events(run: "ag1")
        let deferral = events.first { $0.event == .release && $0.role == "builder" && $0.notBefore != nil }
        #expect(deferral != nil)
        let acked = events.first { $0.event == .ack && $0.role == "builder" }
        if let deferral, let acked, let notBefore = deferral.notBefore {
            #expect(acked.time.milliseconds >= notBefore)
        }

        // The transcripts and prompts are on the bus, the key is not.
        let attempt = layout.run("ag1") + "/greeting/1"
        let log = try String(contentsOfFile: attempt + "/builder.log", encoding: .utf8)
        #expect(log.contains("s-work") && log.contains("total_cost_usd"))
        #expect(
            try String(contentsOfFile: attempt + "/builder.log.prompt.md", encoding: .utf8).contains(
                "Create greeting.txt"))
        #expect(FileManager.default.fileExists(atPath: attempt + "/step-report.md"))
        let tailed = try await session.planbus("tail", "ag1", "greeting", "--no-follow")
        #expect(tailed.code == 0 && tailed.stdout.contains("\"session_id\":\"s-work\""))
        let reviewLog = try await session.planbus("tail", "ag1", "greeting", "--log", "review", "--no-follow")
        #expect(reviewLog.code == 0 && reviewLog.stdout.contains("approved"), "\(reviewLog.stderr)")
        let noJudge = try await session.planbus("tail", "ag1", "greeting", "--log", "judge", "--no-follow")
        #expect(noJudge.code == 4 && noJudge.stderr.contains("has no judge.log (its logs: builder, review)"))
        let noRun = try await session.planbus("tail", "nope", "greeting", "--no-follow")
        #expect(noRun.code == 4 && noRun.stderr.contains("no run nope"))
        let requests = stub.requests
        #expect(requests.count == 1)
        #expect(requests.first?["headers"]?["authorization"] == "Bearer sk-e2e-0123456789abcdef")
        let everything = try Self.text(under: layout.root)
        #expect(!everything.contains("sk-e2e-0123456789abcdef"))

        // The docs agent's prose is in the changelog and the handoff has its summary and the usage.
        let changelog = try await git.run(["show", "\(RunMessages.integrationBranch("ag1")):CHANGELOG.md"])
        #expect(changelog.contains("Adds a greeting file for new users."))
        // The handoff is written once the run has finished.
        let handoffFile = layout.run("ag1") + "/HANDOFF.md"
        #expect(await eventually { FileManager.default.fileExists(atPath: handoffFile) })
        let handoff = try String(contentsOfFile: handoffFile, encoding: .utf8)
        #expect(handoff.contains("## Summary\n\nAdds a greeting file for new users."))
        #expect(handoff.contains("- builder: 1 call, 900 input and 120 output tokens"))

        // planbus usage: the builder's reported cost, the verifier's estimated one (gpt-4o at
        // $2.50 and $10 per million: 2000 in and 100 out = $0.006), the docs role's unknown.
        let usage = try JSONValue.parse(try await session.planbus("usage", "ag1", "--json").stdout)
        let groups = Dictionary(
            uniqueKeysWithValues: (usage["groups"]?.arrayValue ?? []).compactMap { g in
                g["key"]?.stringValue.map { ($0, g) }
            })
        #expect(groups["builder"]?["cost_usd"] == .number(0.0123))
        #expect(groups["builder"]?["cost_source"] == "reported")
        #expect(groups["builder"]?["input"] == 900 && groups["builder"]?["cache_read"] == 3000)
        #expect(groups["verifier"]?["cost_source"] == "estimated")
        #expect(groups["verifier"]?["cost_usd"]?.stringValue == nil)
        if case .number(let cost)? = groups["verifier"]?["cost_usd"] { #expect(abs(cost - 0.006) < 1e-9) }
        #expect(groups["docs"]?["cost_source"] == "unknown")
        // The docs agent reported no tokens: unknown, not zero.
        #expect(groups["docs"]?["input"] == .null)
        #expect(handoff.contains("- docs: 2 calls, unknown input and unknown output tokens"))
        #expect((groups["docs"]?["calls"]?.intValue ?? 0) >= 2)
        // The handoff's own usage reached the planner, which took it without complaint.
        #expect(
            await eventually {
                JournalReader(layout: layout).events(run: "ag1").contains {
                    $0.event == .ack && $0.role == "planner" && $0.id.contains("documented-handoff")
                }
            })
        #expect(!JournalReader(layout: layout).events(run: "ag1").contains { $0.event == .dead })
        let text = try await session.planbus("usage", "ag1")
        #expect(text.stdout.contains("builder") && text.stdout.contains("0.0123") && text.stdout.contains("TOTAL"))
    }

    /// Every regular file's text under `root`.
    static func text(under root: String) throws -> String {
        var all = ""
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let name = enumerator?.nextObject() as? String {
            if let data = FileManager.default.contents(atPath: root + "/" + name) {
                all += String(decoding: data, as: UTF8.self)
            }
        }
        return all
    }
}
