import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs through every stage, end to end, with real role processes under `planbus up` and a real
/// git repository: preflight, discovery and spec, a judged competition, a person's approval and
/// rejection, a step's question and its answer, changelog entries, smoke gates, the circuit
/// breaker, and merges refused by smoke gates.
@Suite("Run stages", .serialized)
struct RunStagesTests {

    func task(_ status: JSONValue?, _ id: String) -> JSONValue? {
        status?["tasks"]?.arrayValue?.first { $0["id"]?.stringValue == id }
    }

    /// The pending requests for people, from `planbus questions --json`.
    func requests(_ session: SessionFixture, run: String) async throws -> [JSONValue] {
        let listed = try await session.planbus("questions", "--run", run, "--json")
        #expect(listed.code == 0, "\(listed.stderr)")
        return try JSONValue.parse(listed.stdout)["requests"]?.arrayValue ?? []
    }

    @Test(
        "a high-risk plan: preflight, discovery, spec, a judged competition, a question answered, an approval after a rejection, changelog, smoke"
    )
    func everyStage() async throws {
        let (session, git) = try await runSession()
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: stages
        goal: go through every stage
        risk: high
        repository: repo
        preflight:
          - name: readme
            command: [test, -f, README]
        smoke:
          - name: all-there
            command: test -f a.txt && test -f d.txt && test -f g.txt && test -f q.txt
        tasks:
          - id: plain
            title: write a.txt
            prompt: write a.txt
            scope: [a.txt]
            run: echo a > a.txt
          - id: duel
            title: write d.txt, two ways
            prompt: write d.txt
            scope: [d.txt, tests/**]
            candidates: 2
            run: |
              if [ "$PLANBUS_CANDIDATE" = 1 ]; then seq 1 40 > d.txt; else echo d > d.txt; mkdir -p tests; echo t > tests/d_test.sh; fi
            gates:
              - name: exists
                command: [test, -f, d.txt]
          - id: gated
            title: write g.txt, with a person's approval
            prompt: write g.txt
            scope: [g.txt]
            needs_approval: true
            run: if [ -s "$PLANBUS_FEEDBACK" ]; then echo approved-version > g.txt; else echo first > g.txt; fi
          - id: asks
            title: write q.txt with the answer to a question
            prompt: write q.txt
            scope: [q.txt]
            run: |
              if [ ! -s "$PLANBUS_ANSWERS" ]; then echo "Which greeting?" > "$PLANBUS_QUESTION"; exit 0; fi
              sed -n 's/^A: //p' "$PLANBUS_ANSWERS" > q.txt
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let base = try await git.commit(of: "main")
        let up = try session.up()
        defer { up.send(SIGTERM) }

        // submit --wait stops, with exit 2, once the run can only go on with a person.
        let waited = try await session.planbus("submit", plan, "--wait", "--run", "st1")
        #expect(waited.code == 2, "\(waited.stdout)\n\(waited.stderr)")
        #expect(waited.stderr.contains("waiting on a person"), "\(waited.stderr)")
        let paused = session.runStatus("st1")
        #expect(paused?["stage"] == "build")
        #expect(paused?["preflight"]?["passed"] == .bool(true))
        #expect(task(paused, "asks")?["state"] == "asking")
        #expect(task(paused, "gated")?["state"] == "awaiting_approval")
        #expect(task(paused, "duel")?["state"] == "integrated")
        #expect(task(paused, "duel")?["judgment"]?.stringValue?.hasPrefix("candidate 2 wins.") == true)
        let folder = session.bus.layout.run("st1")
        let discovery = try String(contentsOfFile: folder + "/DISCOVERY.md", encoding: .utf8)
        #expect(discovery.contains("at planbus/st1/integration: 1 tracked file. "))
        #expect(discovery.contains("- `readme`: `test -f README`: found in PATH"))
        #expect(discovery.contains("## duel: write d.txt, two ways"))
        let spec = try String(contentsOfFile: folder + "/SPEC.md", encoding: .utf8)
        #expect(spec.contains("Decided by a design competition of 2 candidates"))
        #expect(spec.contains("A person approves it before it is integrated."))

        // The judge deleted the losing candidate's branch; the winner's change is integrated.
        let integration = RunMessages.integrationBranch("st1")
        #expect(try await git.run(["show", "\(integration):d.txt"]) == "d")
        #expect(!(await git.branchExists("planbus/st1/duel/1")))
        #expect(await git.branchExists("planbus/st1/duel/1-c2"))

        var pending = try await requests(session, run: "st1")
        #expect(Set(pending.compactMap { $0["kind"]?.stringValue }) == ["question", "approval"])
        let question = try #require(pending.first { $0["kind"] == "question" }?["id"]?.stringValue)
        let answered = try await session.planbus("answer", question, "hello there")
        #expect(answered.code == 0, "\(answered.stderr)")
        let rejected = try await session.planbus("reject", "st1", "gated", "--reason", "write the approved version")
        #expect(rejected.code == 0, "\(rejected.stderr)")

        // The rejection is the next attempt's feedback; that attempt waits for approval again.
        #expect(
            await eventually {
                let t = self.task(session.runStatus("st1"), "gated")
                return t?["state"] == "awaiting_approval" && t?["attempt"] == 2
            })
        let feedback = try String(contentsOfFile: folder + "/gated/2/feedback.txt", encoding: .utf8)
        #expect(feedback.contains("write the approved version"))
        pending = try await requests(session, run: "st1")
        #expect(pending.map { $0["attempt"] } == [2])
        #expect(try await session.planbus("approve", "st1", "gated").code == 0)

        #expect(await eventually { session.runStatus("st1")?["finished"] == .bool(true) })
        let final = session.runStatus("st1")
        #expect(final?["halted"] == .null)
        #expect(final?["smoke"]?["passed"] == .bool(true))
        for id in ["plain", "duel", "gated", "asks"] {
            #expect(task(final, id)?["state"] == "integrated", "\(id): \(String(describing: task(final, id)))")
            #expect(task(final, id)?["documented"] == .bool(true))
        }
        #expect(try await git.run(["show", "\(integration):q.txt"]) == "hello there")
        #expect(try await git.run(["show", "\(integration):g.txt"]) == "approved-version")
        let changelog = try await git.run(["show", "\(integration):CHANGELOG.md"])
        #expect(changelog.hasPrefix("# Changelog\n\n## stages (run st1)\n"))
        for id in ["plain", "duel", "gated", "asks"] { #expect(changelog.contains("(`\(id)`, attempt ")) }
        #expect(changelog.contains("(`gated`, attempt 2,"))
        #expect(try await git.commit(of: "main") == base)

        #expect(await eventually { FileManager.default.fileExists(atPath: folder + "/HANDOFF.md") })
        let handoff = try String(contentsOfFile: folder + "/HANDOFF.md", encoding: .utf8)
        #expect(handoff.contains("smoke gates passed"))
        #expect(handoff.contains("preflight gates passed"))
        #expect(handoff.contains("judged: candidate 2 wins."))
        #expect(handoff.contains("approved by"))
        #expect(handoff.contains("answer ("))
        #expect(handoff.contains("SPEC.md"))

        // planbus log reads like a conversation, people included.
        let log = try await session.planbus("log", "st1")
        #expect(log.stdout.contains("judgment"))
        #expect(log.stdout.contains("decision"))
        #expect(try await requests(session, run: "st1").isEmpty)
    }

    @Test("the circuit breaker halts the run: nothing more is released, and submit --wait says 2")
    func circuitBreaker() async throws {
        let (session, _) = try await runSession()
        let gate = session.root + "/may-finish"
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: breaker
        goal: fail three times
        risk: low
        repository: repo
        max_attempts: 1
        tasks:
          - id: f1
            title: fails
            prompt: x
            scope: [f1.txt]
            run: echo 1 > f1.txt; exit 1
          - id: f2
            title: fails
            prompt: x
            scope: [f2.txt]
            run: echo 2 > f2.txt; exit 1
          - id: f3
            title: fails
            prompt: x
            scope: [f3.txt]
            run: echo 3 > f3.txt; exit 1
          - id: slow
            title: waits, then works
            prompt: x
            scope: [s.txt]
            run: while [ ! -f \(gate) ]; do sleep 0.05; done; echo s > s.txt
          - id: later
            title: after slow
            prompt: x
            scope: [l.txt]
            depends_on: [slow]
            run: echo l > l.txt
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submit = try ChildProcess.spawn(
            [Executables.planbus, "submit", plan, "--wait", "--run", "cb", "--config", session.config],
            stdout: .file(session.root + "/submit.out"), stderr: .file(session.root + "/submit.err"))
        #expect(
            await eventually {
                session.runStatus("cb")?["halted"] == "circuit breaker: 3 task failures in a row"
            })
        #expect(task(session.runStatus("cb"), "slow")?["state"] == "building")
        _ = FileManager.default.createFile(atPath: gate, contents: Data())
        // submit --wait on a halted run says 2 once the build in flight has come back.
        #expect(await submit.wait(timeout: testProcessTimeout).exit == .exited(2))
        #expect(try String(contentsOfFile: session.root + "/submit.err", encoding: .utf8).contains("circuit breaker"))
        let final = session.runStatus("cb")
        #expect(final?["finished"] == .bool(true))
        #expect(task(final, "slow")?["state"] == "integrated")
        #expect(task(final, "later")?["state"] == "not_started")
        #expect(!FileManager.default.fileExists(atPath: session.bus.layout.run("cb") + "/later"))
        let shown = try await session.planbus("status", "cb")
        #expect(shown.stdout.contains("HALTED: circuit breaker"))
    }

    @Test("failing smoke gates are reported in the handoff, and merge refuses to move the base branch")
    func failingSmoke() async throws {
        let (session, git) = try await runSession()
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: smoky
        goal: smoke fails
        risk: low
        repository: repo
        smoke:
          - name: needs-b
            command: [test, -f, b.txt]
        tasks:
          - id: a
            title: write a.txt
            prompt: x
            scope: [a.txt]
            run: echo a > a.txt
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let base = try await git.commit(of: "main")
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let waited = try await session.planbus("submit", plan, "--wait", "--run", "sm")
        #expect(waited.code == 1, "\(waited.stdout)\n\(waited.stderr)")
        #expect(waited.stderr.contains("smoke"))
        let final = session.runStatus("sm")
        #expect(final?["smoke"]?["passed"] == .bool(false))
        #expect(task(final, "a")?["state"] == "integrated")
        let folder = session.bus.layout.run("sm")
        #expect(await eventually { FileManager.default.fileExists(atPath: folder + "/HANDOFF.md") })
        #expect(try String(contentsOfFile: folder + "/HANDOFF.md", encoding: .utf8).contains("smoke gates FAILED"))
        let merged = try await session.planbus("merge", "sm")
        #expect(merged.code == 1)
        #expect(merged.stderr.contains("needs-b"), "\(merged.stderr)")
        #expect(try await git.commit(of: "main") == base)
    }
}
