import BusTesting
import Foundation
import Roles
import Testing

/// The shared agent CLI runner, on real shell scripts.
@Suite("AgentProcess")
struct AgentProcessTests {
    @Test("stdout streams into the transcript while the command runs; stderr goes to .stderr")
    func streaming() async throws {
        let fake = try FakeAgentCLI(
            "agent",
            body: """
                echo first
                echo oops >&2
                while [ ! -f "$HOME/go" ]; do sleep 0.05; done
                echo second
                exit 3
                """)
        defer { fake.remove() }
        try "earlier\n".write(toFile: fake.transcript, atomically: true, encoding: .utf8)
        let request = fake.request()
        let task = Task {
            try await AgentProcess.run(["agent", "x"], request: request, environment: request.environment)
        }
        // The first line is in the transcript before the command has ended.
        #expect(await eventually { lines(of: fake.transcript) == ["earlier", "first"] })
        #expect(await eventually { lines(of: fake.transcript + ".stderr") == ["oops"] })
        #expect(FileManager.default.createFile(atPath: fake.path("go"), contents: nil))
        let output = try await task.value
        #expect(output.ending == .exited(3))
        #expect(output.exitCode == 3)
        #expect(output.stdout == "first\nsecond\n")
        #expect(output.stderr == "oops\n")
        #expect(lines(of: fake.transcript) == ["earlier", "first", "second"])
        #expect(fake.arguments == ["x"])
        #expect(fake.environment["PATH"] == request.environment["PATH"])
        #expect(
            (try? String(contentsOfFile: fake.path("pwd"), encoding: .utf8))?.trimmingCharacters(in: .newlines)
                == fake.work)
    }

    @Test("a command that hangs is killed at the time limit, with the grandchild it started")
    func timeout() async throws {
        let fake = try FakeAgentCLI(program: "agent")
        defer { fake.remove() }
        try fake.install(body: "echo started\n" + fake.leavingGrandchild + "\n" + fake.hanging)
        let request = fake.request(timeout: .seconds(20))
        let began = ContinuousClock.now
        let (output, wasAlive, pid) = try await fake.watchingGrandchild {
            try await AgentProcess.run(["agent"], request: request, environment: request.environment)
        }
        #expect(wasAlive)
        #expect(output.ending == .timedOut)
        // Killed, not waited for: the hang (sleep 300) would have lasted far longer.
        #expect(ContinuousClock.now - began < .seconds(200))
        #expect(output.stdout == "started\n")
        let grandchild = try #require(pid)
        #expect(await eventually { !FakeAgentCLI.isAlive(grandchild) })
    }

    @Test("a grandchild left running when the command exits is killed")
    func grandchildAfterExit() async throws {
        let fake = try FakeAgentCLI(program: "agent")
        defer { fake.remove() }
        try fake.install(body: "echo done\n" + fake.leavingGrandchild)
        let request = fake.request()
        let (output, wasAlive, pid) = try await fake.watchingGrandchild {
            try await AgentProcess.run(["agent"], request: request, environment: request.environment)
        }
        #expect(wasAlive)
        #expect(output.ending == .exited(0))
        let grandchild = try #require(pid)
        #expect(await eventually { !FakeAgentCLI.isAlive(grandchild) })
    }

    @Test("a missing program is reported as not started, and the environment helper drops and adds")
    func notStarted() async throws {
        let fake = try FakeAgentCLI("agent", body: "exit 0")
        defer { fake.remove() }
        let request = fake.request(extraEnvironment: ["CLAUDECODE": "1"])
        let output = try await AgentProcess.run(["no-such-agent"], request: request, environment: request.environment)
        guard case .notStarted(let message) = output.ending else {
            Issue.record("expected notStarted, got \(output.ending)")
            return
        }
        #expect(message.contains("no-such-agent"))
        let environment = AgentProcess.environment(for: request, removing: ["CLAUDECODE"], adding: ["A": "b"])
        #expect(environment["CLAUDECODE"] == nil)
        #expect(environment["A"] == "b")
        #expect(environment["PATH"] == request.environment["PATH"])
    }

    @Test("a transcript that cannot be created is an io error")
    func unwritableTranscript() async throws {
        let fake = try FakeAgentCLI("agent", body: "exit 0")
        defer { fake.remove() }
        try "x".write(toFile: fake.path("file"), atomically: true, encoding: .utf8)
        var request = fake.request()
        request.transcript = fake.path("file") + "/t.log"
        await #expect(throws: RoleError.self) {
            try await AgentProcess.run(["agent"], request: request, environment: request.environment)
        }
    }
}
