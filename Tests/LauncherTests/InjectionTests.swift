import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile text in every field a person or another role can fill: ids, titles, prompts, gate
/// names and arguments, scopes, envelope bodies, answers and approvals. Each payload tries to
/// create a sentinel file in a canary folder, through a shell (`$(…)`, backticks, `;`, `|`, `&&`,
/// a new line, quotes), a path (`../`), or an option of git (`--output=FILE`). A run goes to its
/// end under `planbus up`, then no sentinel may exist and no file may have appeared outside the
/// bus (which holds the run folders and work trees) and the repository's `.git`.
@Suite("Injection", .serialized)
struct InjectionTests {
    /// The payloads, each trying to create a file in `canary`, numbered from `first`.
    static func payloads(_ canary: String, from first: Int = 1) -> [String] {
        var n = first - 1
        func next() -> Int {
            n += 1
            return n
        }
        return [
            "$(touch \(canary)/\(next()))", "`touch \(canary)/\(next())`", "../../CANARY/\(next())",
            "x; touch \(canary)/\(next()) #", "x | touch \(canary)/\(next())", "x && touch \(canary)/\(next())",
            "x\ntouch \(canary)/\(next())", "--output=\(canary)/\(next())", "'; touch \(canary)/\(next()); echo '",
            "\"; touch \(canary)/\(next()); echo \"", "../../../../../../../../..\(canary)/\(next())",
            "-o\(canary)/\(next())",
        ]
    }

    /// A YAML double-quoted scalar holding `text` exactly.
    static func quoted(_ text: String) -> String { JSONValue.string(text).serialized() }

    /// Every file and folder under `root`, relative to it, except those under `bus/` and
    /// `repo/.git/` and the ones `allowed` names (with everything under them).
    static func tree(_ root: String, allowed: [String] = []) -> Set<String> {
        let all = (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []
        return Set(
            all.filter { path in
                !(["bus", "repo/.git"] + allowed).contains { path == $0 || path.hasPrefix($0 + "/") }
            })
    }

    /// Every path under `root` with `CANARY` in it, except the canary folder itself.
    static func sentinels(_ root: String) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []).filter {
            $0.contains("CANARY") && $0 != "CANARY"
        }.sorted()
    }

    /// True once envelope `id` was acked or dead-lettered by `role`.
    static func settled(_ session: SessionFixture, _ id: String, role: String) -> Bool {
        let layout = session.bus.layout
        let dead = (try? FileManager.default.contentsOfDirectory(atPath: layout.dead(role))) ?? []
        if dead.contains(where: { $0.hasPrefix(id + ".") }) { return true }
        let days = (try? FileManager.default.contentsOfDirectory(atPath: layout.done(role))) ?? []
        return days.contains { day in
            ((try? FileManager.default.contentsOfDirectory(atPath: layout.done(role, day: day))) ?? []).contains {
                $0.hasPrefix(id + ".")
            }
        }
    }

    /// The hostile plan: its name, goal, titles, prompts, scopes and gate arguments carry every
    /// payload; `pick` is a design competition (the judge), `approve` needs a person's approval,
    /// and `ask` asks a question whose text (from `question`) and answer carry payloads too.
    static func plan(canary: String, question: String) -> String {
        let p = payloads(canary)
        let block = p.joined(separator: "\n").split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        let arguments = p.map(quoted).joined(separator: ", ")
        return """
            version: 1
            name: \(quoted("inject " + p[0] + " " + p[1]))
            goal: |
            \(block.replacingOccurrences(of: "      ", with: "  "))
            risk: high
            repository: repo
            gates:
              - name: echo
                command: [printf, "%s\\n", \(arguments)]
                protects: [\(quoted(p[0] + "/**")), \(quoted(p[3]))]
            preflight:
              - name: pre
                command: [printf, "%s\\n", \(arguments)]
            smoke:
              - name: smoke
                command: [printf, "%s\\n", \(arguments)]
            tasks:
              - id: pick
                title: \(quoted(p[0] + " " + p[1] + " " + p[3]))
                prompt: |
            \(block)
                scope: ["out/pick/**", \(quoted(p[0] + "/x")), \(quoted(p[1]))]
                candidates: 2
                run: mkdir -p out/pick && printf '%s\\n' "$PLANBUS_CANDIDATE" > out/pick/c.txt
              - id: approve
                title: \(quoted(p[4] + " " + p[5] + " " + p[7]))
                prompt: |
            \(block)
                scope: ["out/approve/**"]
                needs_approval: true
                gates:
                  - name: own
                    command: [printf, "%s\\n", \(arguments)]
                run: mkdir -p out/approve && echo ok > out/approve/a.txt
              - id: ask
                title: \(quoted(p[8] + " " + p[9] + " " + p[11]))
                prompt: \(quoted(p.joined(separator: "\n")))
                scope: ["out/ask/**"]
                run: |
                  if [ ! -s "$PLANBUS_ANSWERS" ]; then cp '\(question)' "$PLANBUS_QUESTION"; exit 0; fi
                  mkdir -p out/ask && cp "$PLANBUS_ANSWERS" out/ask/answers.txt

            """
    }

    @Test(
        "hostile ids, titles, prompts, gates, scopes, envelopes, answers and approvals reach no shell and write nowhere else"
    )
    func offlineRun() async throws {
        let (session, git) = try await runSession()
        let root = session.root
        let canary = root + "/CANARY"
        try FileManager.default.createDirectory(atPath: canary, withIntermediateDirectories: true)
        let question = root + "/question.txt"
        try (Self.payloads(canary, from: 40).joined(separator: "\n") + "\n").write(
            toFile: question, atomically: true, encoding: .utf8)
        try Self.plan(canary: canary, question: question).write(
            toFile: root + "/plan.yaml", atomically: true, encoding: .utf8)
        let before = Self.tree(root)

        // Refused before anything is sent: hostile ids, gate names and branches.
        for (index, payload) in Self.payloads(canary, from: 60).enumerated() {
            let file = root + "/refused-\(index).yaml"
            let valid = Self.plan(canary: canary, question: question)
            for (key, hostile) in [
                ("  - id: pick", "  - id: \(Self.quoted(payload))"),
                ("  - name: echo", "  - name: \(Self.quoted(payload))"),
                ("repository: repo", "repository: repo\nbase_branch: \(Self.quoted(payload))"),
                ("    candidates: 2", "    candidates: 2\n    depends_on: [\(Self.quoted(payload))]"),
            ] {
                try valid.replacingOccurrences(of: key, with: hostile).write(
                    toFile: file, atomically: true, encoding: .utf8)
                let refused = try await session.planbus("submit", file, "--run", "bad\(index)")
                #expect(refused.code == 3, "\(key) \(payload): \(refused.stdout) \(refused.stderr)")
            }
            try? FileManager.default.removeItem(atPath: file)
            let badRun = try await session.planbus("submit", "plan.yaml", "--run", payload)
            #expect(badRun.code != 0, "--run \(payload)")
        }

        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submitted = try await session.planbus("submit", "plan.yaml", "--run", "inj1")
        #expect(submitted.code == 0, "\(submitted.stdout)\n\(submitted.stderr)")

        // The question carries payloads; so do the answer, the approval and who gave them.
        let layout = session.bus.layout
        var asked: String?
        #expect(
            await eventually(timeout: .seconds(120)) {
                asked =
                    RunMessages.pending(
                        kind: RunMessages.question, role: RunMessages.human, run: "inj1", layout: layout
                    )
                    .first { $0.task == "ask" }?.id
                return asked != nil
                    && !RunMessages.pending(kind: "approval", role: RunMessages.human, run: "inj1", layout: layout)
                        .isEmpty
            }, "\(String(describing: session.runStatus("inj1")))")
        let hostile = Self.payloads(canary, from: 80)
        let answered = try await session.planbus(
            "answer", try #require(asked), hostile.joined(separator: "\n"), "--by", hostile[0])
        #expect(answered.code == 0, "\(answered.stderr)")
        let approved = try await session.planbus(
            "approve", "inj1", "approve", "--reason", hostile.joined(separator: " "), "--by", hostile[1])
        #expect(approved.code == 0, "\(approved.stderr)")

        #expect(await eventually(timeout: .seconds(120)) { session.runStatus("inj1")?["finished"] == .bool(true) })
        let final = session.runStatus("inj1")
        for task in final?["tasks"]?.arrayValue ?? [] {
            #expect(task["state"] == "integrated", "\(task)")
        }
        let integration = RunMessages.integrationBranch("inj1")
        let answers = try await git.run(["show", "\(integration):out/ask/answers.txt"])
        #expect(answers.contains(hostile[0]) && answers.contains(Self.payloads(canary, from: 40)[1]), "\(answers)")

        // Envelopes sent by hand with hostile bodies, to every role that reads one.
        let repo = root + "/repo"
        let p = Self.payloads(canary, from: 100)
        let commit = try await git.commit(of: integration)
        let sends: [(role: String, kind: String, task: String?, body: JSONValue)] = [
            (
                "verifier", "built", "pick",
                [
                    "attempt": 7, "candidate": 1, "base": .string(p[7]), "commit": .string(commit),
                    "step_exit": 0, "title": .string(p[0]), "branch": .string(p[3]), "log": .string(p[2]),
                ]
            ),
            (
                "verifier", "built", "approve",
                [
                    "attempt": 8, "candidate": 1, "base": .string(commit), "commit": .string(p[11]),
                    "step_exit": 0, "title": .string(p[1]),
                ]
            ),
            ("verifier", "check", nil, ["stage": "smoke", "commit": .string(p[7]), "repository": .string(p[0])]),
            ("verifier", "check", nil, ["stage": .string(p[2]), "commit": .string(commit)]),
            ("verifier", "integrate", "pick", ["commit": .string(p[7]), "candidate": 1, "attempt": 9]),
            (
                "docs", "changelog", "pick",
                [
                    "commit": .string(p[7]), "repository": .string(repo), "title": .string(p[0]),
                    "plan": .string(p[1]),
                ]
            ),
            (
                "judge", "judge", "pick",
                [
                    "repository": .string(repo), "title": .string(p[0]), "attempt": 9,
                    "candidates": [
                        ["candidate": 1, "commit": .string(p[7]), "approved": true, "branch": .string(p[4])],
                        ["candidate": 2, "commit": .string(p[11]), "approved": true, "branch": .string(p[2])],
                    ],
                ]
            ),
            (
                "builder", "build", "pick",
                [
                    "repository": .string(repo), "base": .string(p[7]), "attempt": 9, "title": .string(p[0]),
                    "prompt": .string(p[1]), "scope": [.string(p[2])], "feedback": .string(p[3]),
                ]
            ),
            (
                "planner", "answer", nil,
                ["question_id": .string(p[2]), "answer": .string(p[0]), "by": .string(p[5])]
            ),
            ("planner", "decision", "approve", ["approved": true, "reason": .string(p[1]), "by": .string(p[4])]),
        ]
        var sent: [(id: String, role: String)] = []
        for item in sends {
            var arguments = ["send", "--to", item.role, "--kind", item.kind, "--run", "inj1", "--json"]
            if let task = item.task { arguments += ["--task", task] }
            arguments += ["--body", item.body.serialized()]
            let result = try await runCommand(
                [Executables.planbus] + arguments + ["--config", session.config], directory: root)
            #expect(result.code == 0, "\(item.kind): \(result.stderr)")
            if let id = (try? JSONValue.parse(result.stdout))?["id"]?.stringValue { sent.append((id, item.role)) }
        }
        // Hostile names are refused by the envelope's own checks.
        for payload in Self.payloads(canary, from: 120) {
            for field in ["--run", "--task", "--to", "--kind", "--id", "--causation"] {
                var arguments = ["send", "--to", "verifier", "--kind", "note", "--run", "inj1"]
                if let at = arguments.firstIndex(of: field) {
                    arguments[at + 1] = payload
                } else {
                    arguments += [field, payload]
                }
                let refused = try await runCommand(
                    [Executables.planbus] + arguments + ["--config", session.config], directory: root)
                #expect(refused.code == 3 || refused.code == 64, "\(field) \(payload): \(refused.stderr)")
            }
        }
        #expect(
            await eventually(timeout: .seconds(120)) {
                sent.allSatisfy { Self.settled(session, $0.id, role: $0.role) }
            }, "\(sent.filter { !Self.settled(session, $0.id, role: $0.role) })")

        up.send(SIGTERM)
        _ = await up.wait(timeout: .seconds(30))
        #expect(Self.sentinels(root) == [], "sentinels: \(Self.sentinels(root))")
        let after = Self.tree(root, allowed: ["up.log"])
        #expect(after.subtracting(before).sorted() == [], "new files outside the bus and .git")
        #expect(try await git.run(["status", "--porcelain"]) == "", "the repository's work tree changed")
    }

    /// A builder agent: a script run by the `command` agent, recording its arguments in `record`,
    /// copying its prompt into the work tree, and answering with a step report.
    static func agent(record: String) -> String {
        """
        #!/bin/sh
        n=$(ls '\(record)' | wc -l)
        printf '%s\\n' "$@" > '\(record)'/args.$n
        mkdir -p out
        cp "$1" out/prompt.md
        echo 'Copied the prompt.'
        echo 'STEP REPORT'
        echo '- changed: out/prompt.md'

        """
    }

    @Test("the agent path: hostile text reaches the command agent as a prompt file, never through a shell")
    func agentPath() async throws {
        let scratch = FileManager.default.temporaryDirectory.path + "/planbus-inject-" + UUID().uuidString.prefix(8)
        let record = scratch + "/record"
        try FileManager.default.createDirectory(atPath: record, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // The canary lives in the session folder, made below; the payloads name it before it exists.
        let session = try await SessionFixture(
            roles: """
                  planner:
                  builder:
                    agent: command
                    model: \(Self.quoted("$(touch CANARY-MODEL)"))
                  verifier:
                  judge:
                  docs:
                """,
            settings: """
                agents:
                  command:
                    argv: ["\(scratch)/agent.sh", "{prompt_file}", "{workdir}", "{model}", "{session}"]
                    output: text
                """)
        let root = session.root
        let canary = root + "/CANARY"
        try FileManager.default.createDirectory(atPath: canary, withIntermediateDirectories: true)
        try Self.agent(record: record).write(toFile: scratch + "/agent.sh", atomically: true, encoding: .utf8)
        chmod(scratch + "/agent.sh", 0o755)
        let git = try await Git.create(at: root + "/repo", files: [("README", "start\n")], message: "start")
        let p = Self.payloads(canary)
        try """
        version: 1
        name: \(Self.quoted("agent " + p[0]))
        goal: \(Self.quoted(p.joined(separator: "\n")))
        risk: low
        repository: repo
        tasks:
          - id: agent
            title: \(Self.quoted(p[0] + " " + p[1] + " " + p[3] + " " + p[7]))
            prompt: \(Self.quoted(p.joined(separator: "\n")))
            scope: ["out/**", \(Self.quoted(p[0])), \(Self.quoted(p[1] + "/**"))]
        """.write(toFile: root + "/plan.yaml", atomically: true, encoding: .utf8)
        let before = Self.tree(root)

        let up = try session.up()
        defer { up.send(SIGTERM) }
        let result = try await session.planbus("submit", "plan.yaml", "--run", "ag1", "--wait")
        #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)")

        // The agent got the prompt file's path as one argument, and the work tree and the model as
        // they are; the prompt holds every payload as text.
        let args = try String(contentsOfFile: record + "/args.0", encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false
        ).map(String.init)
        let folder = session.bus.layout.run("ag1") + "/agent/1"
        // The prompt file is the call's private copy, outside the bus; the bus keeps it redacted
        // beside the transcript.
        let promptFile = try #require(args.first)
        #expect(promptFile.hasSuffix(".prompt.md") && !promptFile.hasPrefix(root), "\(args)")
        let saved = try String(contentsOfFile: folder + "/builder.log.prompt.md", encoding: .utf8)
        for payload in p { #expect(saved.contains(payload), "\(payload)") }
        #expect(args.count >= 3 && args[1].hasPrefix(session.bus.layout.run("ag1") + "/trees/@builder."), "\(args)")
        #expect(args.contains("$(touch CANARY-MODEL)"), "\(args)")
        let prompt = try await git.run(["show", "\(RunMessages.integrationBranch("ag1")):out/prompt.md"])
        for payload in p { #expect(prompt.contains(payload), "\(payload)") }

        up.send(SIGTERM)
        _ = await up.wait(timeout: .seconds(30))
        #expect(Self.sentinels(root) == [], "sentinels: \(Self.sentinels(root))")
        #expect(!FileManager.default.fileExists(atPath: root + "/repo/CANARY-MODEL"))
        let after = Self.tree(root, allowed: ["up.log"])
        #expect(after.subtracting(before).sorted() == [], "new files outside the bus and .git")
    }
}
