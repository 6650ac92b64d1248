import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A plan run end to end by real role processes under `planbus up`, on a real git repository.
@Suite("Runs", .serialized)
struct RunTests {
    @Test("build, verify, retry with the feedback, reject a scope violation, block its dependent; submit --wait says 1")
    func planRuns() async throws {
        let (session, git) = try await runSession()
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: e2e
        goal: exercise the run
        risk: low
        repository: repo
        max_attempts: 2
        smoke:
          - name: a-there
            command: [test, -f, a.txt]
        tasks:
          - id: plain
            title: write a.txt
            prompt: write a.txt
            scope: [a.txt]
            run: echo a > a.txt
            gates:
              - name: exists
                command: [test, -f, a.txt]
          - id: retry
            title: write r.txt, right the second time
            prompt: write r.txt
            scope: [r.txt]
            run: if [ -s "$PLANBUS_FEEDBACK" ]; then echo good > r.txt; else echo bad > r.txt; fi
            gates:
              - name: good
                command: grep -q good r.txt
          - id: sprawl
            title: writes outside its scope
            prompt: write s.txt
            scope: [s.txt]
            run: echo s > s.txt; echo x > outside.txt
          - id: after
            title: needs sprawl
            prompt: write t.txt
            scope: [t.txt]
            depends_on: [sprawl]
            run: echo t > t.txt
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let base = try await git.commit(of: "main")
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submitted = try await session.planbus("submit", plan, "--wait", "--json", "--run", "e2e1")
        #expect(submitted.code == 1, "\(submitted.stdout)\n\(submitted.stderr)")

        let status = try JSONValue.parse(
            String(contentsOfFile: session.bus.layout.run("e2e1") + "/status.json", encoding: .utf8))
        let tasks = Dictionary(
            uniqueKeysWithValues: (status["tasks"]?.arrayValue ?? []).compactMap { t in
                t["id"]?.stringValue.map { ($0, t) }
            })
        #expect(tasks["plain"]?["state"] == "integrated")
        #expect(tasks["plain"]?["attempts"] == 1)
        #expect(tasks["retry"]?["state"] == "integrated")
        #expect(tasks["retry"]?["attempts"] == 2)
        #expect(tasks["sprawl"]?["state"] == "failed")
        #expect(tasks["sprawl"]?["reason"]?.stringValue?.contains("outside.txt") == true)
        #expect(tasks["after"]?["state"] == "blocked")
        #expect(tasks["after"]?["by"] == "sprawl")
        #expect(status["smoke"]?["passed"] == .bool(true))

        // The integration branch has both approved changes; the user's branch is untouched.
        let integration = RunMessages.integrationBranch("e2e1")
        #expect(try await git.run(["show", "\(integration):a.txt"]) == "a")
        #expect(try await git.run(["show", "\(integration):r.txt"]) == "good")
        #expect(try await git.attempt(["cat-file", "-e", "\(integration):outside.txt"]).succeeded == false)
        #expect(try await git.commit(of: "main") == base)
        // Evidence: the failed gate of the first attempt kept its log, and the second got its feedback.
        let gateLogs = try FileManager.default.contentsOfDirectory(
            atPath: session.bus.layout.run("e2e1") + "/retry/1/gates")
        #expect(gateLogs.count == 1)
        let feedback = try String(
            contentsOfFile: session.bus.layout.run("e2e1") + "/retry/2/feedback.txt", encoding: .utf8)
        #expect(feedback.contains("good"))
        // No work tree is left behind: the builder removed the one it kept once its queue was empty.
        #expect(await eventually { workTreeRecords(of: git.directory).isEmpty })

        let shown = try await session.planbus("status", "e2e1")
        #expect(shown.code == 0)
        #expect(shown.stdout.contains("blocked by sprawl"))
        #expect(shown.stdout.contains("ELAPSED"))
        let shownJSON = try JSONValue.parse(try await session.planbus("status", "e2e1", "--json").stdout)
        let retryTask = shownJSON["tasks"]?.arrayValue?.first { $0["id"] == "retry" }
        // Two attempts, each built and verified: the task took some time, and nobody holds it now.
        #expect((retryTask?["elapsed_ms"]?.intValue ?? 0) > 0)
        #expect(retryTask?["held_by"] == .null)
        #expect(shownJSON["dead_letters"] == nil)
        // An envelope of the run that a role dead-letters (the verifier handles no such kind) is
        // shown; the run has finished, so the planner leaves it alone.
        let bogus = try await session.planbus(
            "send", "--to", "verifier", "--kind", "bogus", "--run", "e2e1", "--body", "{\"summary\":\"odd\"}")
        #expect(bogus.code == 0, "\(bogus.stderr)")
        #expect(
            await eventually {
                JournalReader(layout: session.bus.layout).events(run: "e2e1").contains {
                    $0.event == .dead && $0.kind == "bogus"
                }
            })
        let deadJSON = try JSONValue.parse(try await session.planbus("status", "e2e1", "--json").stdout)
        #expect(deadJSON["dead_letters"]?.arrayValue?.first?["kind"] == "bogus")
        #expect(deadJSON["dead_letters"]?.arrayValue?.first?["role"] == "verifier")
        let deadShown = try await session.planbus("status", "e2e1")
        #expect(deadShown.stdout.contains("DEAD LETTER: bogus "), "\(deadShown.stdout)")
        #expect(deadShown.stdout.contains("it came after the run finished"), "\(deadShown.stdout)")

        // The handoff: what shipped with its proof, what did not and why, and a next plan that
        // submit accepts as it is.
        let folder = session.bus.layout.run("e2e1")
        #expect(await eventually { FileManager.default.fileExists(atPath: folder + "/HANDOFF.html") })
        let handoff = try String(contentsOfFile: folder + "/HANDOFF.md", encoding: .utf8)
        #expect(handoff.contains("### plain: write a.txt"))
        #expect(handoff.contains("1 file, +1 -0"))
        #expect(handoff.contains("gate `good`: exit 0"))
        #expect(handoff.contains("### sprawl: writes outside its scope (failed)"))
        #expect(handoff.contains("outside.txt"))
        // The next prompt gives the first finding with the count.
        #expect(
            handoff.contains("- sprawl (writes outside its scope), failed: Rejected: 1 problem. scope: "), "\(handoff)")
        #expect(handoff.contains("Blocked: it depends on sprawl"))
        #expect(handoff.contains("| retry | integrated | 2 |"))
        #expect(handoff.contains("Usage and cost"))
        let html = try String(contentsOfFile: folder + "/HANDOFF.html", encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("<script") && !html.contains("<link"))
        let next = try await session.planbus("submit", folder + "/next-plan.yaml", "--dry-run")
        #expect(next.code == 0, "\(next.stderr)")
        #expect(next.stdout.contains("Wave 1: sprawl"))
        #expect(next.stdout.contains("Wave 2: after"))
        #expect(!next.stdout.contains("Task plain"))

        // planbus log RUN --ids ends each line with the envelope's id, which planbus show takes.
        let logged = try await session.planbus("log", "e2e1", "--ids")
        #expect(logged.code == 0)
        let verdictLine = try #require(logged.stdout.split(separator: "\n").first { $0.contains("verdict [retry]") })
        let id = try #require(verdictLine.components(separatedBy: "  id=").last)
        let shownEnvelope = try await session.planbus("show", id)
        #expect(shownEnvelope.code == 0, "\(shownEnvelope.stderr)")
        #expect(shownEnvelope.stdout.contains("verdict"))

        // planbus tail prints a task's build output, latest attempt first.
        let tail = try await session.planbus("tail", "e2e1", "retry", "--no-follow")
        #expect(tail.code == 0)
        #expect(tail.stdout.contains("attempt 2 of retry"))
        #expect(tail.stderr.contains("/retry/2/builder.log"))
        #expect(try await session.planbus("tail", "e2e1", "nope").code == 4)

        // planbus merge runs the smoke gates again; they pass, so it moves the base branch, checked
        // out here, with its work tree. The files it writes there are the user's: made with the
        // user's umask (022 here), not the private bus's 077.
        let integrationHead = try await git.commit(of: integration)
        let merged = try await runCommand(
            [
                "/bin/sh", "-c", "umask 022 && exec \"$0\" \"$@\"", Executables.planbus, "merge", "e2e1", "--json",
                "--config", session.config,
            ], directory: session.root)
        #expect(merged.code == 0, "\(merged.stderr)")
        #expect(try JSONValue.parse(merged.stdout)["merged"] == .string(integrationHead))
        #expect(try await git.commit(of: "main") == integrationHead)
        #expect(try String(contentsOfFile: session.root + "/repo/r.txt", encoding: .utf8) == "good\n")
        let mode = try #require(
            try FileManager.default.attributesOfItem(atPath: session.root + "/repo/r.txt")[.posixPermissions] as? Int)
        #expect(mode == 0o644)
        #expect(try await session.planbus("merge", "no-such-run").code == 4)
    }

    @Test("submit refuses an invalid plan with its file and line; --dry-run prints the route")
    func submitChecks() async throws {
        let (session, _) = try await runSession()
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: bad
        goal: g
        risk: low
        repository: repo
        tasks:
          - id: a
            title: a
            prompt: a
            scope: [a.txt]
            depends_on: [nope]
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let bad = try await session.planbus("submit", plan)
        #expect(bad.code == 3)
        #expect(bad.stderr.contains("plan.yaml:11:"))
        #expect(bad.stderr.contains("nope"))
        try """
        version: 1
        name: good
        goal: g
        risk: low
        repository: repo
        tasks:
          - id: a
            title: a
            prompt: a
            scope: [a.txt]
            run: echo a > a.txt
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let dry = try await session.planbus("submit", plan, "--dry-run")
        #expect(dry.code == 0)
        #expect(dry.stdout.contains("Wave 1: a"))
        // A run id in use, and a base branch the repository does not have, are refused.
        let once = try await session.planbus("submit", plan, "--run", "once")
        #expect(once.code == 0)
        // status, with no run given, shows the run just submitted, and why it has no status yet.
        let waiting = try await session.planbus("status")
        #expect(waiting.code == 4)
        #expect(waiting.stderr.contains("run once has no status yet: its goal waits for the planner, and no planner"))
        let again = try await session.planbus("submit", plan, "--run", "once")
        #expect(again.code == 3)
        #expect(again.stderr.contains("run once already exists"))
        try String(contentsOfFile: plan, encoding: .utf8).replacingOccurrences(
            of: "repository: repo", with: "repository: repo\nbase_branch: mian"
        ).write(toFile: plan, atomically: true, encoding: .utf8)
        let typo = try await session.planbus("submit", plan)
        #expect(typo.code == 3)
        #expect(typo.stderr.contains("base_branch mian is not a branch of"))
        // A plan that needs what runs cannot do yet is refused with the reasons, nothing sent.
        try """
        version: 1
        name: later
        goal: g
        risk: medium
        repository: repo
        tasks:
          - id: a
            title: a
            prompt: a
            scope: [a.txt]
            needs_approval: true
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let later = try await session.planbus("submit", plan)
        #expect(later.code == 3)
        #expect(later.stderr.contains("task a has no run step"))
        #expect(!later.stderr.contains("risk"))
        // Only the goal of run "once" was sent; nothing for the refused plans.
        let queued = try FileManager.default.contentsOfDirectory(atPath: session.bus.layout.new("planner"))
        #expect(queued.count == 1)
        #expect(once.stderr.contains("no planner is running"))
    }

    @Test(
        "the builder killed mid-build and the verifier killed mid-verification: their work is taken over and the task integrated"
    )
    func killedMidWork() async throws {
        let (session, git) = try await runSession()
        let buildGate = session.root + "/build-may-finish"
        let verifyGate = session.root + "/verify-may-finish"
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: kills
        goal: survive crashes
        risk: low
        repository: repo
        tasks:
          - id: slow
            title: wait, then write s.txt
            prompt: write s.txt
            scope: [s.txt]
            run: while [ ! -f \(buildGate) ]; do sleep 0.05; done; echo s > s.txt
            gates:
              - name: slow-gate
                command: while [ ! -f \(verifyGate) ]; do sleep 0.05; done
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let up = try session.up()
        defer { up.send(SIGTERM) }
        #expect(await eventually { session.runningPid("verifier") != nil })
        let submitted = try await session.planbus("submit", plan, "--run", "kills")
        #expect(submitted.code == 0, "\(submitted.stderr)")

        /// The pid of the worker holding the task's envelope in `role`'s queue.
        func holder(_ role: String) -> Int32? {
            let cur = session.bus.layout.cur(role)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: cur)) ?? []
            return names.compactMap { name -> Int32? in
                guard let at = name.firstIndex(of: "@") else { return nil }
                return (try? WorkerID(parsing: String(name[name.index(after: at)...].dropLast(5))))?.pid
            }.first
        }
        let log = session.bus.layout.run("kills") + "/slow/1/builder.log"
        #expect(await eventually { FileManager.default.fileExists(atPath: log) && holder("builder") != nil })
        // Someone follows the build live; it ends by itself once the task is integrated.
        let follower = try ChildProcess.spawn(
            [Executables.planbus, "tail", "kills", "slow", "--config", session.config],
            stdout: .file(session.root + "/tail.out"), stderr: .file(session.root + "/tail.err"))
        let builder = try #require(holder("builder"))
        #expect(kill(builder, SIGKILL) == 0)
        _ = FileManager.default.createFile(atPath: buildGate, contents: Data())

        let gates = session.bus.layout.run("kills") + "/slow/1/gates"
        #expect(await eventually { FileManager.default.fileExists(atPath: gates) && holder("verifier") != nil })
        let verifier = try #require(holder("verifier"))
        #expect(kill(verifier, SIGKILL) == 0)
        _ = FileManager.default.createFile(atPath: verifyGate, contents: Data())

        let status = session.bus.layout.run("kills") + "/status.json"
        #expect(
            await eventually {
                guard let data = FileManager.default.contents(atPath: status), let v = try? JSONValue.parse(Array(data))
                else { return false }
                return v["finished"] == .bool(true)
            })
        let final = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: status))))
        #expect(final["tasks"]?.arrayValue?.first?["state"] == "integrated")
        #expect(try await git.run(["show", "\(RunMessages.integrationBranch("kills")):s.txt"]) == "s")
        // Both take-overs are in the journal, and no work tree is left.
        let expired = JournalReader(layout: session.bus.layout).events(run: "kills").filter { $0.event == .expire }
        #expect(Set(expired.map(\.role)) == ["builder", "verifier"])
        #expect(await follower.wait(timeout: testProcessTimeout).exit == .exited(0))
        // Both holders of attempt 1 wrote their header to the same log, the follower saw both.
        #expect(lines(of: session.root + "/tail.out").filter { $0.contains("attempt 1 of slow") }.count == 2)
        #expect(await eventually { workTreeRecords(of: git.directory).isEmpty })
    }

    @Test("the whole system killed mid-run: the next up resumes the run from the bus alone and finishes it")
    func wholeSystemKilled() async throws {
        let (session, git) = try await runSession()
        let gate = session.root + "/may-finish"
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: resume
        goal: survive everything dying
        risk: low
        repository: repo
        tasks:
          - id: first
            title: write f.txt
            prompt: write f.txt
            scope: [f.txt]
            run: echo f > f.txt
          - id: held
            title: wait, then write h.txt
            prompt: write h.txt
            scope: [h.txt]
            depends_on: [first]
            run: while [ ! -f \(gate) ]; do sleep 0.05; done; echo h > h.txt
          - id: last
            title: write l.txt
            prompt: write l.txt
            scope: [l.txt]
            depends_on: [held]
            run: echo l > l.txt
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let up = try session.up()
        #expect(await eventually { session.runningPid("docs") != nil })
        #expect(try await session.planbus("submit", plan, "--run", "resume").code == 0)
        let log = session.bus.layout.run("resume") + "/held/1/builder.log"
        #expect(await eventually { FileManager.default.fileExists(atPath: log) })

        up.send(SIGKILL)
        _ = await up.wait(timeout: testProcessTimeout).exit
        #expect(await eventually { session.liveProcesses().isEmpty })
        _ = FileManager.default.createFile(atPath: gate, contents: Data())

        let again = try session.up()
        defer { again.send(SIGTERM) }
        let status = session.bus.layout.run("resume") + "/status.json"
        #expect(
            await eventually {
                guard let data = FileManager.default.contents(atPath: status), let v = try? JSONValue.parse(Array(data))
                else { return false }
                return v["finished"] == .bool(true)
            })
        let final = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: status))))
        #expect(final["tasks"]?.arrayValue?.map { $0["state"] } == ["integrated", "integrated", "integrated"])
        #expect(try await git.run(["show", "\(RunMessages.integrationBranch("resume")):l.txt"]) == "l")
        #expect(
            await eventually {
                FileManager.default.fileExists(atPath: session.bus.layout.run("resume") + "/HANDOFF.md")
            })
    }
}
