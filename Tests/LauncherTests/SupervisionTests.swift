import Bus
import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `planbus up` supervising real role processes, with real signals.
@Suite("Supervision", .serialized)
struct SupervisionTests {
    /// Stops a supervisor started by a test and waits for it.
    func stop(_ up: ChildProcess) async {
        up.send(SIGTERM)
        _ = await up.wait(timeout: testProcessTimeout).exit
    }

    /// The timestamp at the start of the first line of `up.log` containing `text`.
    func logTime(_ session: SessionFixture, _ text: String) -> Timestamp? {
        lines(of: session.root + "/up.log").first { $0.contains(text) }.flatMap { line in
            line.split(separator: " ").first.flatMap { Timestamp(rfc3339: String($0)) }
        }
    }

    @Test(
        "SIGKILL of the verifier holding an envelope: re-spawned within 1 s, envelope taken over at epoch 2 and completed"
    )
    func killVerifier() async throws {
        let session = try await SessionFixture(
            roles: SessionFixture.testingRole("verifier") + "\n" + SessionFixture.testingRole("builder", instances: 2))
        let up = try session.up()
        #expect(
            await eventually {
                session.runningPid("verifier") != nil && session.runningPid("builder") != nil
                    && session.runningPid("builder", instance: 1) != nil
            })
        let builders = [session.runningPid("builder"), session.runningPid("builder", instance: 1)]
        // Each role is its own process group and inherits no descriptor (the supervisor's lock
        // file above all).
        let lock = SupervisorFiles(layout: session.bus.layout).lock
        for pid in builders.compactMap({ $0 }) {
            #expect(getpgid(pid) == pid)
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            let targets = fds.compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
            }
            #expect(!targets.isEmpty)
            #expect(!targets.contains(lock))
        }
        let id = try session.send(to: "verifier", body: ["action": "gate", "gate": .string(session.gates)])
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(id) 1 ") } })
        let old = try #require(session.runningPid("verifier"))

        let killedAt = Timestamp.now()
        #expect(kill(old, SIGKILL) == 0)
        #expect(await eventually { (session.runningPid("verifier") ?? old) != old })
        let newPid = try #require(session.runningPid("verifier"))
        // The supervisor's own record of the spawn (same machine, same clock as the kill).
        let started = try #require(logTime(session, "verifier.0 started, pid \(newPid)"))
        #expect(
            started.milliseconds - killedAt.milliseconds < 1_000,
            "re-spawned \(started.milliseconds - killedAt.milliseconds) ms after the kill")

        session.openGate(id)
        #expect(await eventually { session.isDone(id, role: "verifier") })
        let events = session.events(id)
        #expect(events.contains { $0.event == .expire && $0.epoch == 1 })
        #expect(events.contains { $0.event == .claim && $0.epoch == 2 })
        #expect(events.contains { $0.event == .ack && $0.epoch == 2 })
        #expect(!events.contains { $0.event == .ack && $0.epoch == 1 })
        // Nothing else stopped.
        #expect([session.runningPid("builder"), session.runningPid("builder", instance: 1)] == builders)
        #expect(session.snapshot?.instances.filter { $0.role == "builder" }.map(\.restarts) == [0, 0])
        await stop(up)
    }

    @Test("SIGSTOP: the role is detected as hung and replaced; its stale ack after SIGCONT changes nothing")
    func stoppedRoleIsReplaced() async throws {
        let session = try await SessionFixture(
            roles: SessionFixture.testingRole(
                "verifier", instances: 2, extra: "    timeouts:\n      stop_grace: 30s"))
        let up = try session.up()
        #expect(
            await eventually {
                session.runningPid("verifier") != nil && session.runningPid("verifier", instance: 1) != nil
            })
        let id = try session.send(to: "verifier", body: ["action": "gate", "gate": .string(session.gates)])
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(id) 1 ") } })
        let holderLine = try #require(session.outLines.first { $0.hasPrefix("claimed \(id) 1 ") })
        let holder = try #require(Int32(holderLine.split(separator: " ")[3]))
        let instance = session.snapshot?.instances.first { $0.pid == holder }?.instance
        #expect(kill(holder, SIGSTOP) == 0)

        // Hung: its progress stalls past the lease; the supervisor sends SIGTERM (pending while
        // the process is stopped) and, meanwhile, the other instance takes the envelope over.
        #expect(await eventually { session.snapshot?.instances.first { $0.pid == holder }?.phase == "hung" })
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(id) 2 ") } })
        session.openGate(id)
        #expect(await eventually { session.isDone(id, role: "verifier") })

        // Woken, the old process finishes its handler and tries to ack: fenced, nothing changes.
        #expect(kill(holder, SIGCONT) == 0)
        #expect(await eventually { session.outLines.contains { $0 == "processed \(id) 1 \(holder)" } })
        #expect(await eventually { session.events(id).contains { $0.event == .fenced && $0.epoch == 1 } })
        let acks = session.events(id).filter { $0.event == .ack }
        #expect(acks.map(\.epoch) == [2])
        // Then it exits on the pending SIGTERM and is re-spawned.
        #expect(
            await eventually {
                guard
                    let i = session.snapshot?.instances.first(where: {
                        $0.instance == instance && $0.role == "verifier"
                    })
                else { return false }
                return i.phase == "running" && i.pid != holder && i.restarts == 1
            })
        #expect(!isLive(holder))
        await stop(up)
    }

    @Test("a handler stuck past its envelope timeout freezes progress: the supervisor replaces the process")
    func stuckHandlerIsReplaced() async throws {
        let session = try await SessionFixture(
            roles: SessionFixture.testingRole(
                "verifier", extra: "    timeouts:\n      envelope: 200ms\n      stop_grace: 500ms"))
        let up = try session.up()
        #expect(await eventually { session.runningPid("verifier") != nil })
        let first = try #require(session.runningPid("verifier"))
        try session.send(to: "verifier", body: ["action": "hang"])
        #expect(await eventually { (session.runningPid("verifier") ?? first) != first })
        #expect(lines(of: session.root + "/up.log").contains { $0.contains("verifier.0 made no progress") })
        await stop(up)
    }

    @Test("no heartbeat within start_timeout is a hang; a process deaf to SIGTERM is SIGKILLed after its grace")
    func startTimeoutAndEscalation() async throws {
        let session = try await SessionFixture(
            roles: """
                  stubborn:
                    command: ["/bin/sh", "-c", "trap '' TERM; exec sleep 600"]
                    timeouts:
                      stop_grace: 200ms
                \(SessionFixture.testingRole("builder"))
                """,
            supervisor: "  start_timeout: 500ms")
        let up = try session.up()
        let log = session.root + "/up.log"
        #expect(
            await eventually {
                lines(of: log).contains { $0.contains("stubborn.0 wrote no heartbeat within 500ms") }
            })
        #expect(
            await eventually {
                lines(of: log).contains {
                    $0.contains("stubborn.0 still running after its stop grace; sending SIGKILL")
                }
            })
        #expect(
            await eventually { lines(of: log).contains { $0.contains("stubborn.0 hung process ended (signal 9)") } })
        #expect(await eventually { (session.snapshot?.instances.first { $0.role == "stubborn" }?.restarts ?? 0) >= 1 })
        #expect(session.snapshot?.instances.first { $0.role == "builder" }?.restarts == 0)
        await stop(up)
        #expect(session.liveProcesses().isEmpty)
    }

    @Test("up with the product roles as configured by default: each is a planbus role process answering ping")
    func productRoles() async throws {
        let names = ["planner", "builder", "verifier", "judge", "docs"]
        let session = try await SessionFixture(
            roles: names.map { "  \($0):" }.joined(separator: "\n")
                + "\n    args: [\"--verbose\"]\n    env: {PLANBUS_TEST_MARK: \"42\"}\n    model: m-1")
        let up = try session.up()
        #expect(
            await eventually {
                let instances = session.snapshot?.instances ?? []
                return instances.count == 6 && instances.allSatisfy { $0.phase == "running" }
            })
        // The last role (docs) got its args, env and model; its process shows them.
        let docs = try #require(session.runningPid("docs"))
        let cmdline = String(
            decoding: (FileManager.default.contents(atPath: "/proc/\(docs)/cmdline") ?? Data()).map {
                $0 == 0 ? 32 : $0
            },
            as: UTF8.self)
        #expect(cmdline.contains("role docs --instance 0"))
        #expect(cmdline.contains("--model m-1"))
        #expect(cmdline.hasSuffix("--verbose "))
        let environ = FileManager.default.contents(atPath: "/proc/\(docs)/environ") ?? Data()
        #expect(String(decoding: environ, as: UTF8.self).split(separator: "\0").contains("PLANBUS_TEST_MARK=42"))
        let pings = try names.map { (role: $0, id: try session.send(to: $0, kind: "ping")) }
        for ping in pings {
            #expect(await eventually { session.isDone(ping.id, role: ping.role) })
            // The journal line follows the rename into done/.
            #expect(
                await eventually {
                    let ack = session.events(ping.id).first { $0.event == .ack }
                    return ack.flatMap { try? WorkerID(parsing: $0.worker) }?.role == ping.role
                })
        }
        let odd = try session.send(to: "builder", kind: "no-such-kind")
        #expect(
            await eventually {
                session.events(odd).contains { $0.event == .dead && ($0.reason ?? "").contains("does not handle kind") }
            })
        await stop(up)
        #expect(session.liveProcesses().isEmpty)
    }

    @Test("crash loop: a role that exits at once is marked failed; the other roles go on serving")
    func crashLoop() async throws {
        let session = try await SessionFixture(
            roles: """
                  crasher:
                    command: ["\(Executables.testWorker)", "role", "--exit-at-start", "3"]
                  missing:
                    command: ["/nonexistent/planbus-role"]
                \(SessionFixture.testingRole("builder"))
                """,
            supervisor: "  restart_intensity: 3\n  restart_period: 1m")
        let up = try session.up()
        let marker = SupervisorFiles(layout: session.bus.layout).failed("crasher")
        #expect(await eventually { FileManager.default.fileExists(atPath: marker) })
        let missing = SupervisorFiles(layout: session.bus.layout).failed("missing")
        #expect(await eventually { FileManager.default.fileExists(atPath: missing) })
        // state.json follows the markers within a turn of the supervisor's loop.
        #expect(await eventually { session.snapshot?.failedRoles == ["crasher", "missing"] })
        let lastExit = session.snapshot?.instances.first { $0.role == "missing" }?.lastExit ?? ""
        #expect(lastExit.contains("spawn failed") && lastExit.contains("No such file"))
        #expect(session.snapshot?.instances.first { $0.role == "crasher" }?.phase == "failed")
        let ps = try await session.planbus("ps", "--json")
        let workers = try JSONValue.parse(ps.stdout)["workers"]?.arrayValue ?? []
        #expect(workers.contains { $0["role"] == "crasher" && $0["mark"] == "failed" })
        // The builder serves on.
        let id = try session.send(to: "builder")
        #expect(await eventually { session.isDone(id, role: "builder") })
        #expect(session.snapshot?.instances.first { $0.role == "builder" }?.restarts == 0)
        await stop(up)
    }

    @Test("SIGKILL of the supervisor leaves no role process; the next up completes the pending work")
    func supervisorKilled() async throws {
        let session = try await SessionFixture(
            roles: SessionFixture.testingRole("verifier") + "\n" + SessionFixture.testingRole("builder", instances: 2))
        let up = try session.up()
        #expect(
            await eventually {
                session.snapshot?.instances.allSatisfy { $0.phase == "running" } == true
            })
        // The supervisor and its three roles.
        #expect(session.liveProcesses().count == 4)
        let id = try session.send(to: "verifier", body: ["action": "gate", "gate": .string(session.gates)])
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(id) 1 ") } })

        up.send(SIGKILL)
        _ = await up.wait(timeout: testProcessTimeout).exit
        #expect(await eventually { session.liveProcesses().isEmpty })

        session.openGate(id)
        let again = try session.up()
        #expect(await eventually { session.isDone(id, role: "verifier") })
        #expect(session.events(id).contains { $0.event == .ack && $0.epoch == 2 })
        await stop(again)
        #expect(session.liveProcesses().isEmpty)
    }

    @Test("down with roles mid-envelope: one finishes, one is released; nothing is lost and everything exits")
    func downMidEnvelope() async throws {
        let session = try await SessionFixture(
            roles: SessionFixture.testingRole("verifier", extra: "    timeouts:\n      stop_grace: 5s") + "\n"
                + SessionFixture.testingRole("builder", extra: "    timeouts:\n      stop_grace: 300ms"))
        let up = try session.up()
        #expect(
            await eventually {
                session.snapshot?.instances.allSatisfy { $0.phase == "running" } == true
            })
        let slow = try session.send(to: "verifier", body: ["action": "sleep", "ms": 1_000])
        let stuck = try session.send(to: "builder", body: ["action": "gate", "gate": .string(session.gates)])
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(slow) 1 ") } })
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(stuck) 1 ") } })

        let down = try await session.planbus("down", "--json")
        #expect(down.code == 0, "\(down.stderr)")
        #expect(await up.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(session.liveProcesses().isEmpty)
        #expect(session.isDone(slow, role: "verifier"))
        #expect(session.events(stuck).contains { $0.event == .release })
        let pending = try FileManager.default.contentsOfDirectory(atPath: session.bus.layout.new("builder"))
        #expect(pending.contains { $0.hasPrefix(stuck) })
        // Every heartbeat says stopped.
        let ps = try await session.planbus("ps", "--json")
        let workers = try JSONValue.parse(ps.stdout)["workers"]?.arrayValue ?? []
        #expect(!workers.isEmpty)
        #expect(workers.allSatisfy { $0["state"] == "stopped" })
    }

    @Test("a second up on the same bus and host refuses; --detach runs in the background until down")
    func oneSupervisorPerHost() async throws {
        let session = try await SessionFixture(roles: SessionFixture.testingRole("verifier"))
        let detached = try await session.planbus("up", "--detach", "--json")
        #expect(detached.code == 0, "\(detached.stderr)")
        let info = try JSONValue.parse(detached.stdout)
        let pid = try #require(info["pid"]?.intValue)
        #expect(info["log"]?.stringValue == SupervisorFiles(layout: session.bus.layout).log)
        #expect(session.runningPid("verifier") != nil)

        let second = try await session.planbus("up")
        #expect(second.code == 1)
        #expect(second.stderr.contains("already runs for bus"))
        #expect(second.stderr.contains("pid \(pid)"))

        let down = try await session.planbus("down")
        #expect(down.code == 0)
        #expect(!isLive(Int32(pid)))
        #expect(session.liveProcesses().isEmpty)
    }

    @Test("restart ROLE --agent --model: saved to the configuration, that role re-spawned, the others untouched")
    func restartRole() async throws {
        let session = try await SessionFixture(
            roles: SessionFixture.testingRole("verifier") + "\n" + SessionFixture.testingRole("builder"))
        let up = try session.up()
        #expect(
            await eventually {
                session.snapshot?.instances.allSatisfy { $0.phase == "running" } == true
            })
        let verifier = try #require(session.runningPid("verifier"))
        let builder = try #require(session.runningPid("builder"))
        // In-flight work is finished by the old process within its grace before the restart.
        let inFlight = try session.send(to: "verifier", body: ["action": "sleep", "ms": 800])
        #expect(await eventually { session.outLines.contains { $0.hasPrefix("claimed \(inFlight) 1 \(verifier)") } })
        let result = try await session.planbus("restart", "verifier", "--agent", "codex", "--model", "gpt-5", "--json")
        #expect(result.code == 0, "\(result.stderr)")
        #expect(session.isDone(inFlight, role: "verifier"))
        #expect(session.events(inFlight).contains { $0.event == .ack && $0.epoch == 1 })
        let config = try ConfigLoader.load(path: session.config)
        #expect(config.role("verifier")?.agent == "codex")
        #expect(config.role("verifier")?.model == "gpt-5")
        let now = try #require(session.runningPid("verifier"))
        #expect(now != verifier)
        #expect(session.runningPid("builder") == builder)
        // The new process runs with the new settings, as its heartbeat shows.
        #expect(
            await eventually {
                let hb = SupervisorStateProbe.heartbeats(session.bus, role: "verifier").first { $0.worker.pid == now }
                return hb?.info["model"] == .string("gpt-5") && hb?.info["agent"] == .string("codex")
            })
        // kill: exactly like a crash.
        let killed = try await session.planbus("kill", "builder", "--instance", "0", "--json")
        #expect(killed.code == 0)
        #expect(try JSONValue.parse(killed.stdout)["killed"]?.arrayValue?.first?["pid"]?.intValue == Int(builder))
        let none = try await session.planbus("kill", "builder", "--instance", "5")
        #expect(none.code == 4)
        #expect(await eventually { (session.runningPid("builder") ?? builder) != builder })
        #expect(session.snapshot?.instances.first { $0.role == "builder" }?.restarts == 1)
        // Ctrl-C: SIGINT stops everything gracefully.
        up.send(SIGINT)
        #expect(await up.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(session.liveProcesses().isEmpty)
        #expect(session.snapshot?.state == "stopped")
    }

    @Test("restart ROLE re-reads the agents section: the new process drives the endpoint the file names now")
    func restartRereadsAgents() async throws {
        let session = try await SessionFixture(roles: "  builder:\n    agent: openai\n    model: m1\n  planner:\n")
        let up = try session.up()
        defer { up.send(SIGTERM) }
        #expect(
            await eventually {
                session.snapshot?.instances.allSatisfy { $0.phase == "running" } == true
            })
        let before = try #require(session.runningPid("builder"))
        let planner = try #require(session.runningPid("planner"))
        func arguments(_ pid: Int32) -> [String] {
            let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
            return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        }
        let old = try #require(arguments(before).firstIndex(of: "--agent-settings").map { arguments(before)[$0 + 1] })
        #expect(!old.contains("127.0.0.1:8765"))
        // The file gets an endpoint for openai while everything runs.
        let text = try String(contentsOfFile: session.config, encoding: .utf8)
        try (text + "agents:\n  openai: {base_url: \"http://127.0.0.1:8765/v1\", api_key_env: \"\"}\n").write(
            toFile: session.config, atomically: true, encoding: .utf8)
        let result = try await session.planbus("restart", "builder")
        #expect(result.code == 0, "\(result.stderr)")
        #expect(await eventually { (session.runningPid("builder") ?? before) != before })
        let now = try #require(session.runningPid("builder"))
        let settings = try JSONValue.parse(
            try #require(arguments(now).firstIndex(of: "--agent-settings").map { arguments(now)[$0 + 1] }))
        #expect(settings["primary"]?["base_url"] == "http://127.0.0.1:8765/v1")
        #expect(settings["primary"]?["api_key_env"] == "")
        #expect(settings["primary"]?["model"] == "m1")
        // The planner, not restarted, runs on as it was.
        #expect(session.runningPid("planner") == planner)
    }

}
