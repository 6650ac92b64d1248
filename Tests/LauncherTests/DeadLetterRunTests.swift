import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A dead-lettered envelope of a run ends it (or retries its task) instead of leaving it waiting
/// forever: real role processes under `planbus up`, a real bus and a real git repository.
@Suite("Dead letters of runs", .serialized)
struct DeadLetterRunTests {
    /// Writes a one-task plan (`max_attempts`, `extra` lines after it, the task's `step`) to the
    /// session.
    func plan(_ session: SessionFixture, maxAttempts: Int, extra: String = "", step: String = "echo one > one.txt")
        throws -> String
    {
        let file = session.root + "/plan.yaml"
        try """
        version: 1
        name: dead
        goal: a run whose envelopes die
        risk: low
        repository: repo
        max_attempts: \(maxAttempts)
        \(extra)
        tasks:
          - id: one
            title: write one.txt
            prompt: write one.txt
            scope: [one.txt]
            run: \(step)
        """.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// A session running `roles`, with the repository the plans target.
    func session(roles: String, supervisor: String = "") async throws -> SessionFixture {
        let session = try await SessionFixture(roles: roles, supervisor: supervisor)
        _ = try await Git.create(at: session.root + "/repo", files: [("README", "start\n")], message: "start")
        return session
    }

    func task(_ status: JSONValue?, _ id: String) -> JSONValue? {
        status?["tasks"]?.arrayValue?.first { $0["id"]?.stringValue == id }
    }

    @Test("a builder that dead-letters every build: the task is retried, then fails; submit --wait exits 1")
    func deadBuilds() async throws {
        // The builder is the testing role: it handles only `task`, so the runtime dead-letters
        // each `build` ("does not handle kind").
        let session = try await session(
            roles: """
                  planner:
                \(SessionFixture.testingRole("builder"))
                  docs:
                """)
        let plan = try plan(session, maxAttempts: 2)
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submitted = try await session.planbus("submit", plan, "--wait", "--run", "dl1")
        #expect(submitted.code == 1, "\(submitted.stdout)\n\(submitted.stderr)")
        #expect(submitted.stderr.contains("not integrated"), "\(submitted.stderr)")

        let status = session.runStatus("dl1")
        #expect(status?["finished"] == .bool(true))
        let one = task(status, "one")
        #expect(one?["state"] == "failed")
        #expect(one?["attempts"] == 2)
        let reason = one?["reason"]?.stringValue ?? ""
        #expect(reason.contains("build envelope"), "\(reason)")
        #expect(reason.contains("builder queue"), "\(reason)")
        #expect(reason.contains("does not handle kind \"build\""), "\(reason)")
        let letters = status?["dead_letters"]?.arrayValue ?? []
        #expect(letters.map { $0["effect"]?.stringValue ?? "" } == ["retried", "task_failed"])
        #expect(letters.allSatisfy { $0["role"] == "builder" && $0["kind"] == "build" })

        let shown = try await session.planbus("status", "dl1")
        #expect(shown.code == 0)
        #expect(shown.stdout.contains("DEAD LETTER: build "), "\(shown.stdout)")
        #expect(shown.stdout.contains("task one failed"), "\(shown.stdout)")
        let json = try JSONValue.parse(try await session.planbus("status", "dl1", "--json").stdout)
        #expect(json["dead_letters"]?.arrayValue?.last?["effect"] == "task_failed")
        #expect(json["dead_letters"]?.arrayValue?.last?["outcome"] == "task one failed")
    }

    @Test("a build whose holders are SIGKILLed max_attempts times is dead-lettered by the bus; the task fails")
    func killedHolders() async throws {
        let session = try await session(
            roles: """
                  planner:
                  builder:
                  docs:
                """, supervisor: "  restart_intensity: 100")
        let plan = try plan(session, maxAttempts: 1, step: "sleep 120")
        let layout = session.bus.layout
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submit = Task {
            try await session.planbus("submit", plan, "--wait", "--run", "dl4")
        }
        // Each holder of the build is killed while its step runs; the janitor hands the build to
        // the next builder at a higher epoch, and dead-letters it at the bus's max_attempts (5).
        var killed: Set<Int32> = []
        for _ in 0..<5 {
            var holder: Int32?
            #expect(
                await eventually {
                    let claims = (try? FileManager.default.contentsOfDirectory(atPath: layout.cur("builder"))) ?? []
                    holder = claims.compactMap { QueueNames.parseClaim($0)?.worker.pid }.first {
                        !killed.contains($0)
                    }
                    return holder != nil
                })
            guard let pid = holder else { break }
            kill(pid, SIGKILL)
            killed.insert(pid)
        }
        // The dead letter is moved into dead/ first, then its reason record is placed beside it.
        #expect(
            await eventually {
                DeadLetters.items(layout: layout, role: "builder").first?.reason["reason"] != nil
            })
        let letter = try #require(DeadLetters.items(layout: layout, role: "builder").first)
        #expect(letter.reason["reason"]?.stringValue?.contains("max_attempts 5") == true, "\(letter.reason)")

        let submitted = try await submit.value
        #expect(submitted.code == 1, "\(submitted.stdout)\n\(submitted.stderr)")
        let one = task(session.runStatus("dl4"), "one")
        #expect(one?["state"] == "failed")
        #expect(one?["reason"]?.stringValue?.contains("was dead-lettered in the builder queue: holder") == true)
        #expect(session.runStatus("dl4")?["dead_letters"]?.arrayValue?.first?["effect"] == "task_failed")
    }

    @Test("a dead preflight check halts the run with the dead letter as the reason; submit --wait exits 1")
    func deadCheck() async throws {
        let session = try await session(
            roles: """
                  planner:
                \(SessionFixture.testingRole("verifier"))
                  docs:
                """)
        let plan = try plan(
            session, maxAttempts: 2,
            extra: """
                preflight:
                  - name: fine
                    command: ["true"]
                """)
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submitted = try await session.planbus("submit", plan, "--wait", "--json", "--run", "dl3")
        #expect(submitted.code == 1, "\(submitted.stdout)\n\(submitted.stderr)")
        #expect(
            submitted.stderr.contains("run dl3 failed: preflight failed: the check envelope"), "\(submitted.stderr)")
        let status = try JSONValue.parse(submitted.stdout.split(separator: "\n").last.map(String.init) ?? "")
        #expect(status["finished"] == .bool(true))
        #expect(status["halted"]?.stringValue?.contains("verifier queue") == true)
        #expect(status["halted"]?.stringValue?.contains("does not handle kind \"check\"") == true)
        #expect(status["preflight"]?["passed"] == .bool(false))
        #expect(task(status, "one")?["state"] == "not_started")
        let shown = try await session.planbus("status", "dl3")
        #expect(shown.stdout.contains("HALTED: preflight failed: the check envelope"), "\(shown.stdout)")
    }

    @Test("a build dead-lettered while no planner runs: the planner started again catches up, once")
    func catchUp() async throws {
        // No builder: the build waits in q/builder/new until it is dead-lettered by hand.
        let session = try await session(
            roles: """
                  planner:
                  docs:
                """)
        let plan = try plan(session, maxAttempts: 1)
        let layout = session.bus.layout
        var up = try session.up()
        let submitted = try await session.planbus("submit", plan, "--run", "dl2")
        #expect(submitted.code == 0, "\(submitted.stderr)")
        #expect(await eventually { task(session.runStatus("dl2"), "one")?["state"] == "building" })
        // The status is written before the planner's ack publishes the build.
        #expect(
            await eventually {
                (try? FileManager.default.contentsOfDirectory(atPath: layout.new("builder")))?.count == 1
            })

        // Every role stops; then the build is dead-lettered as the janitor does it for a holder
        // that died at max_attempts.
        up.send(SIGTERM)
        #expect(await up.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(await eventually { session.liveProcesses().isEmpty })
        let holder = try WorkerID(role: "builder", host: Host.name, pid: 1, incarnation: "0123456789abcdef")
        let queue = try RoleQueue(bus: session.bus, role: "builder", worker: holder)
        let claim = try #require(try queue.claimNext())
        #expect(claim.envelope.kind == "build")
        try queue.deadLetter(claim, reason: "holder \(holder) died (no heartbeat) at epoch 1, max_attempts 1")
        #expect(task(session.runStatus("dl2"), "one")?["state"] == "building")

        up = try session.up()
        defer { up.send(SIGTERM) }
        #expect(await eventually { session.runStatus("dl2")?["finished"] == .bool(true) })
        let one = task(session.runStatus("dl2"), "one")
        #expect(one?["state"] == "failed")
        #expect(one?["reason"]?.stringValue?.contains(claim.envelope.id) == true)
        #expect(one?["reason"]?.stringValue?.contains("died (no heartbeat)") == true)
        let notice = DeadLetterNotice.noticeID(of: claim.envelope.id, role: "builder")
        #expect(await eventually { session.isDone(notice, role: "planner", run: "dl2") })
        // One notice, taken once: no second copy anywhere in the planner's queue.
        let copies = JournalReader(layout: layout).events(run: "dl2").filter {
            $0.id == notice && $0.event == .publish
        }
        #expect(copies.count == 1)
        #expect(session.runStatus("dl2")?["dead_letters"]?.arrayValue?.count == 1)
        let shown = try await session.planbus("status", "dl2")
        #expect(shown.stdout.contains("DEAD LETTER: build \(claim.envelope.id) to builder"), "\(shown.stdout)")
    }
}
