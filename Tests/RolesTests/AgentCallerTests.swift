import Bus
import BusTesting
import Foundation
import Roles
import Testing

/// The agent core the roles share: credentials kept off the bus, prices, prompt templates, the
/// shared quota board, and calls with a fallback while a provider is limited.
@Suite("Agent caller")
struct AgentCallerTests {
    @Test("credentials are redacted: keys, tokens, .env lines, bearer tokens, key blocks, the environment's values")
    func redaction() {
        let redactor = Redactor(environment: ["MY_SERVICE_TOKEN": "tok-1234567890", "PATH": "/usr/bin:/bin"])
        let text = """
            key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA in the log
            export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789
            DB_PASSWORD=hunter2hunter2
            Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig
            used tok-1234567890 to call
            -----BEGIN OPENSSH PRIVATE KEY-----
            b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ
            -----END OPENSSH PRIVATE KEY-----
            swift test passed: 12 tests, PATH=/usr/bin:/bin
            """
        let out = redactor.redact(text).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(out[0] == "key [redacted] in the log")
        #expect(out[1] == "export GITHUB_TOKEN=[redacted]")
        #expect(out[2] == "DB_PASSWORD=[redacted]")
        #expect(out[3] == "Authorization: Bearer [redacted]")
        #expect(out[4] == "used [redacted] to call")
        #expect(out[5].hasPrefix("-----BEGIN PRIVATE KEY----- [redacted]"))
        #expect(out[6] == "[redacted]" && out[7] == "[redacted]")
        #expect(out[8] == "swift test passed: 12 tests, PATH=/usr/bin:/bin")
        for secret in ["sk-ant-api03", "ghp_", "hunter2", "eyJhbGci", "tok-1234567890", "b3BlbnNzaC1"] {
            #expect(!out.joined().contains(secret))
        }
    }

    @Test(
        "JSON answers are redacted string by string, a key block inside a string too; an API key variable of any name")
    func redactionOfJSON() throws {
        let redactor = Redactor(environment: ["LLM_AUTH": "plainvalue-123456", "HOME": "/root"], keys: ["LLM_AUTH"])
        let answer: JSONValue = [
            "questions": [
                "Keep -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\n-----END RSA PRIVATE KEY----- here?",
                "Use plainvalue-123456?",
            ],
            "n": 2, "deep": ["k": ["sk-ant-api03-BBBBBBBBBBBBBBBBBBBBBBBB"]],
        ]
        let redacted = redactor.redact(answer)
        let text = redacted.serialized()
        for secret in ["MIIEpAIB", "plainvalue-123456", "sk-ant-api03"] { #expect(!text.contains(secret)) }
        #expect(redacted["n"] == 2)
        #expect(redacted["questions"]?.arrayValue?.count == 2)
        #expect(redacted["questions"]?.arrayValue?[1] == "Use [redacted]?")
        #expect(redacted["deep"]?["k"]?.arrayValue?.first == "[redacted]")
        #expect(Redactor(environment: ["HOME": "/root/home/dir"]).redact("cd /root/home/dir") == "cd /root/home/dir")
    }

    @Test("the patterns match in any case and beside any character; lines without their words stay as they are")
    func redactionOfCaseAndNonASCII() {
        let redactor = Redactor()
        #expect(redactor.redact("export Db_PassWord=hunter2-abc") == "export Db_PassWord=[redacted]")
        #expect(redactor.redact("AUTHORIZATION: BEARER abcdefgh12345") == "AUTHORIZATION: BEARER [redacted]")
        // A line with other characters than ASCII goes through every pattern.
        #expect(redactor.redact("café API_TOKEN=\"s3cr3t-value\"") == "café API_TOKEN=\"[redacted]\"")
        #expect(redactor.redact(#"{"clé": "x", "apiKey": "abcd1234"}"#) == #"{"clé": "x", "apiKey": "[redacted]"}"#)
        // Matching ignores case by folding: ſ (long s) is an s, though the line lowercased holds no
        // "password".
        #expect(redactor.redact("DB_PAſſWORD=hunter22") == "DB_PAſſWORD=[redacted]")
        for line in ["make test", "éè ok", "token count: 12", "the key is on the desk"] {
            #expect(redactor.redact(line) == line)
        }
    }

    @Test("prices: a model by prefix, cache tokens, a reported cost kept, an unknown model left unknown")
    func prices() {
        let table = PriceTable.builtIn.merging(PriceTable(["local-7b": .init(input: 0.1, output: 0.2)]))
        let usage = AgentUsage(inputTokens: 1_000_000, outputTokens: 100_000, cacheReadTokens: 2_000_000)
        let estimated = table.estimate(usage, model: "claude-sonnet-4-20250514")
        #expect(estimated.costSource == .estimated)
        // 1M input at $3, 0.1M output at $15, 2M cache reads at $0.30.
        #expect(abs((estimated.costUSD ?? 0) - (3 + 1.5 + 0.6)) < 1e-9)
        // No cache price: cache reads cost the input price (0.1 + 0.02 + 0.2).
        #expect(table.estimate(usage, model: "local-7b").costUSD.map { abs($0 - 0.32) < 1e-9 } == true)
        let reported = AgentUsage(inputTokens: 10, costUSD: 0.5, costSource: .reported)
        #expect(table.estimate(reported, model: "gpt-4o") == reported)
        #expect(table.estimate(usage, model: "mystery-model").costSource == .unknown)
        #expect(table.estimate(AgentUsage(), model: "gpt-4o").costSource == .unknown)
        #expect(PriceTable(json: table.json) == table)
    }

    @Test("prompt templates: the shipped one, a repository's override, an unknown placeholder named")
    func prompts() throws {
        let repo = try TemporaryBus(roles: []).root + "/repo"
        let library = try PromptLibrary(repository: repo)
        var values: [String: String] = [:]
        for key in [
            "run", "task", "title", "attempt", "goal", "prompt", "scope", "invariants", "gates", "feedback", "answers",
            "previous",
        ] { values[key] = "<\(key)>" }
        let shipped = try library.render("builder", values)
        #expect(shipped.contains("<prompt>") && shipped.contains("STEP REPORT"))
        #expect(!shipped.contains("{{"))

        try FileManager.default.createDirectory(atPath: repo + "/.planbus/prompts", withIntermediateDirectories: true)
        try "Task {{task}}: {{prompt}}\n".write(
            toFile: repo + "/.planbus/prompts/builder.md", atomically: true, encoding: .utf8)
        #expect(try library.render("builder", values) == "Task <task>: <prompt>\n")

        try "{{task}} {{nope}}".write(toFile: repo + "/.planbus/prompts/builder.md", atomically: true, encoding: .utf8)
        #expect {
            try library.render("builder", values)
        } throws: { error in
            let message = (error as? RoleError)?.message ?? ""
            return message.contains(".planbus/prompts/builder.md") && message.contains("{{nope}}")
        }
        #expect(throws: RoleError.self) { try library.render("no-such-template", values) }
    }

    @Test("the run's intent goes into every shipped template that roles render after planning")
    func intent() throws {
        let temporary = try TemporaryBus(roles: [])
        let layout = temporary.bus.layout
        #expect(PromptLibrary.intent(run: "r1", layout: layout) == "none")
        try FileManager.default.createDirectory(atPath: layout.run("r1"), withIntermediateDirectories: true)
        try "# Intent\n\nQ: Which file?\nA: hello.txt, in English\n".write(
            toFile: layout.run("r1") + "/INTENT.md", atomically: true, encoding: .utf8)
        let intent = PromptLibrary.intent(run: "r1", layout: layout)
        #expect(intent.hasSuffix("A: hello.txt, in English"))
        let library = try PromptLibrary(repository: nil, intent: intent)
        for name in ["builder", "reviewer", "judge", "judge-review", "changelog", "handoff"] {
            let template = try String(contentsOfFile: library.path(of: name), encoding: .utf8)
            var values: [String: String] = [:]
            var rest = Substring(template)
            while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
                values[String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)] = "x"
                rest = rest[close.upperBound...]
            }
            values["intent"] = nil
            #expect(try library.render(name, values).contains("A: hello.txt, in English"), "\(name)")
        }
    }

    @Test("the quota board: a limit holds until its time, a shorter one does not replace a longer one")
    func quotaBoard() throws {
        let temporary = try TemporaryBus(roles: [])
        let board = QuotaBoard(layout: temporary.bus.layout)
        let now = Timestamp.now()
        let later = Timestamp(milliseconds: now.milliseconds + 3_600_000)
        #expect(board.limit(of: "claude") == nil)
        try board.record(.init(provider: "claude", until: later, message: "limit", by: "w1", at: now))
        #expect(board.limit(of: "claude")?.until == later)
        try board.record(
            .init(
                provider: "claude", until: Timestamp(milliseconds: now.milliseconds + 60_000), message: "x", by: "w2",
                at: now))
        #expect(board.limit(of: "claude")?.by == "w1")
        #expect(board.limit(of: "claude", now: Timestamp(milliseconds: later.milliseconds + 1)) == nil)
        #expect(board.limits().map(\.provider) == ["claude"])
        let json = try JSONValue.parse(try String(contentsOfFile: board.file("claude"), encoding: .utf8))
        #expect(json["until"] == .string(later.description))
    }

    /// A caller whose agents are fake CLIs in `fake`'s bin folder.
    func caller(_ temporary: TemporaryBus, primary: String, fallback: String? = nil, fake: FakeAgentCLI) -> AgentCaller
    {
        var settings = AgentSettings(
            primary: AgentProfile(agent: primary, model: "gpt-5", executable: fake.bin + "/" + primary),
            limitWait: .seconds(120))
        if let fallback {
            settings.fallback = AgentProfile(agent: fallback, model: "gpt-5", executable: fake.bin + "/" + fallback)
        }
        return AgentCaller(
            settings: settings, layout: temporary.bus.layout, worker: "builder@test",
            environment: [
                "PATH": "/usr/bin:/bin", "HOME": fake.root, "OPENAI_API_KEY": "sk-proj-SECRETSECRETSECRET1234",
            ])
    }

    @Test("a call streams its redacted transcript to the bus, saves its prompt, and estimates the cost")
    func call() async throws {
        let temporary = try TemporaryBus(roles: [])
        let fake = try FakeAgentCLI(program: "codex")
        defer { fake.remove() }
        // The agent echoes a key from its environment: the bus must not get it.
        try fake.install(
            body:
                "echo \"{\\\"type\\\":\\\"note\\\",\\\"key\\\":\\\"$OPENAI_API_KEY\\\"}\"\ncat \(FakeAgentCLI.quotedFixture("codex", "success.jsonl"))"
        )
        let transcript = temporary.root + "/bus/runs/r1/t1/1/builder.log"
        var caller = caller(temporary, primary: "codex", fake: fake)
        caller.scratch = temporary.root + "/scratch"
        try FileManager.default.createDirectory(atPath: caller.scratch, withIntermediateDirectories: true)
        let call = try await caller.call(
            role: "builder", prompt: "fix it; the key is sk-proj-SECRETSECRETSECRET1234", directory: fake.work,
            transcript: transcript, timeout: .seconds(30))
        #expect(call.result.outcome == .ok)
        #expect(call.profile?.agent == "codex")
        #expect(call.limitedUntil == nil)
        let text = try String(contentsOfFile: transcript, encoding: .utf8)
        #expect(text.contains("thread.started") && text.contains("turn.completed"))
        #expect(!text.contains("SECRETSECRET") && text.contains("[redacted]"))
        let prompt = try String(contentsOfFile: transcript + ".prompt.md", encoding: .utf8)
        #expect(prompt == "fix it; the key is [redacted]")
        #expect(call.result.usage.costSource == .estimated)
        #expect((call.result.usage.costUSD ?? 0) > 0)
        let record = call.usageRecord
        #expect(record["agent"] == "codex" && record["model"] == "gpt-5" && record["role"] == "builder")
        #expect(record["cost_source"] == "estimated" && record["outcome"] == "ok")
        #expect(record["session"] == "0199a213-81c0-7800-8aa1-bbab2a035a53")
        // Nothing of the call is left outside the bus.
        #expect(try FileManager.default.contentsOfDirectory(atPath: caller.scratch).isEmpty)
    }

    @Test(
        "a limited primary is recorded on the board and the fallback does the work; with both limited, the earliest reset"
    )
    func fallback() async throws {
        let temporary = try TemporaryBus(roles: [])
        let fake = try FakeAgentCLI(program: "claude")
        defer { fake.remove() }
        let reset = Timestamp.now().milliseconds / 1000 + 7_200
        try fake.install(
            body: """
                echo '{"type":"system","subtype":"init","session_id":"s-1"}'
                echo '{"type":"result","subtype":"success","is_error":true,"result":"Claude AI usage limit reached|\(reset)"}'
                """)
        let codex = FakeAgentCLI(root: fake.root, program: "codex")
        try codex.install(stdout: FakeAgentCLI.fixture("codex", "success.jsonl"))
        let caller = caller(temporary, primary: "claude", fallback: "codex", fake: fake)
        let transcript = temporary.root + "/t.log"
        let call = try await caller.call(
            role: "builder", prompt: "p", directory: fake.work, transcript: transcript, timeout: .seconds(30))
        #expect(call.result.outcome == .ok)
        #expect(call.profile?.agent == "codex")
        #expect(caller.board.limit(of: "claude")?.until == Timestamp(milliseconds: reset * 1000))
        #expect(try String(contentsOfFile: transcript, encoding: .utf8).contains("using the fallback codex/gpt-5"))

        // The board now says claude is limited: the next call goes straight to codex, claude is
        // not run at all (its argument file is gone and stays gone).
        try FileManager.default.removeItem(atPath: fake.argumentsFile)
        let second = try await caller.call(
            role: "builder", prompt: "p", directory: fake.work, transcript: transcript, timeout: .seconds(30))
        #expect(second.profile?.agent == "codex")
        #expect(second.limits.count == 1)

        // codex limited too: both resets are on the board, and the call reports the earlier one.
        try codex.install(stdout: FakeAgentCLI.fixture("codex", "usage-limit-time.jsonl"))
        let before = Timestamp.now().milliseconds
        let third = try await caller.call(
            role: "builder", prompt: "p", directory: fake.work, transcript: transcript, timeout: .seconds(30))
        #expect(third.profile == nil)
        let until = try #require(third.limitedUntil)
        let codexUntil = try #require(caller.board.limit(of: "codex")?.until)
        #expect(until == min(codexUntil, Timestamp(milliseconds: reset * 1000)))
        #expect(codexUntil.milliseconds > before)
        if case .rateLimited = third.result.outcome {
        } else {
            Issue.record("expected rate_limited, got \(third.result.outcome)")
        }
    }
}
