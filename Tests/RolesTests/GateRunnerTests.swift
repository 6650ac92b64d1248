import Bus
import BusTesting
import Foundation
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `GateRunner` with real gate processes in real repositories.
@Suite("Gate runner", .timeLimit(.minutes(2)))
struct GateRunnerTests {
    func log(_ repo: VerifierRepo, _ name: String = "gate") -> String {
        repo.root + "/evidence/attempt-1/\(name).log"
    }

    func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    @Test("a passing gate: exit 0, combined output in the log, nothing changed")
    func passing() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let gate = Gate(name: "lint", command: .shell("echo to-stdout; echo to-stderr >&2; cat README.md"))
        let result = try await GateRunner(directory: repo.tree).run(gate, log: log(repo))
        #expect(result.passed)
        #expect(result.failures.isEmpty)
        #expect(result.exitCode == 0)
        #expect(!result.timedOut)
        #expect(result.command == "/bin/sh -c 'echo to-stdout; echo to-stderr >&2; cat README.md'")
        #expect(result.protectedChanges.isEmpty && result.otherChanges.isEmpty)
        #expect(result.duration > .zero)
        let saved = text(result.log)
        #expect(saved.hasPrefix("$ /bin/sh -c 'echo to-stdout"))
        #expect(saved.contains("to-stdout\n"))
        #expect(saved.contains("to-stderr\n"))
        #expect(saved.contains("hello\n"))
        #expect(saved.contains("[planbus] gate \"lint\": exit 0 after"))
        #expect(result.logTail.contains("to-stderr"))
        #expect(result.json["passed"] == true)
        #expect(result.json["exit_code"] == 0)
        #expect(result.json["timed_out"] == false)
    }

    @Test("a gate that exits 3 fails with its status, and its log tail has the output")
    func failing() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let gate = Gate(name: "tests", command: .shell("for i in $(seq 1 100); do echo line $i; done; exit 3"))
        let result = try await GateRunner(directory: repo.tree).run(gate, log: log(repo))
        #expect(!result.passed)
        #expect(result.exitCode == 3)
        #expect(result.outcome == .exited(3))
        #expect(result.failures.count == 1)
        #expect(result.failures.first?.contains("gate \"tests\" failed") == true)
        #expect(result.failures.first?.contains("exited with status 3") == true)
        #expect(result.findings == [Finding(.gate, result.failures[0], evidence: result.log)])
        #expect(result.logTail.count == GateRunner.tailLines)
        #expect(result.logTail.contains("line 100"))
        #expect(!result.logTail.contains("line 50"))
        #expect(result.logTail.last?.hasPrefix("[planbus] gate \"tests\": exit 3") == true)
        #expect(text(result.log).contains("line 1\n"))
        #expect(result.json["exit_code"] == 3)
        #expect(result.json["passed"] == false)
    }

    @Test("a missing program fails closed without throwing, and says so in the log")
    func missingProgram() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let gate = Gate(name: "lint", command: .argv(["planbus-no-such-linter", "--strict"]))
        let result = try await GateRunner(directory: repo.tree).run(gate, log: log(repo))
        #expect(!result.passed)
        #expect(result.exitCode == nil)
        #expect(!result.timedOut)
        guard case .notStarted(let reason) = result.outcome else {
            Issue.record("a missing program started: \(result.outcome)")
            return
        }
        #expect(reason.contains("planbus-no-such-linter"))
        #expect(
            result.failures.first?.hasPrefix("gate \"lint\" could not start `planbus-no-such-linter --strict`") == true)
        #expect(text(result.log).contains("not started"))
        #expect(result.json["exit_code"] == .null)
        // An empty command cannot start either.
        let empty = try await GateRunner(directory: repo.tree).run(
            Gate(name: "empty", command: .argv([])), log: log(repo, "empty"))
        #expect(!empty.passed)
    }

    @Test("a gate that outlives its timeout is killed with what it started, and fails")
    func timeout() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let pidFile = repo.root + "/background.pid"
        let gate = Gate(
            name: "slow", command: .shell("sleep 300 & echo $! > '\(pidFile)'; sleep 300"), timeout: .seconds(3))
        let result = try await GateRunner(directory: repo.tree).run(gate, log: log(repo))
        #expect(result.timedOut)
        #expect(result.outcome == .timedOut(.seconds(3)))
        #expect(result.exitCode == nil)
        #expect(!result.passed)
        // Killed, not waited for: the sleep would have lasted far longer.
        #expect(result.duration < .seconds(200))
        #expect(result.failures.first?.contains("gate \"slow\" timed out") == true)
        #expect(result.failures.first?.contains("after 3s") == true)
        #expect(result.json["timed_out"] == true)
        #expect(text(result.log).contains("timed out after 3s"))
        // The sleep it left in the background was killed with its process group.
        let pid = try #require(Int32(text(pidFile).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await Self.ended(pid))
    }

    /// Whether `pid` is gone or a zombie, waiting for the kill to land.
    static func ended(_ pid: Int32) async -> Bool {
        await eventually {
            if kill(pid, 0) != 0 { return true }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return stat.contains(") Z ") || stat.isEmpty
        }
    }

    @Test("a gate that changes a protected file fails; changes elsewhere are only reported")
    func protectedFile() async throws {
        let repo = try await VerifierRepo.make([
            "README.md": "hello\n", "Tests/golden.txt": "expected\n", "Sources/a.swift": "// a\n",
        ])
        defer { repo.remove() }
        let gate = Gate(
            name: "tests",
            command: .shell("echo rewritten > Tests/golden.txt; echo out > build.txt; rm Sources/a.swift"),
            protects: ["Tests"])
        let result = try await GateRunner(directory: repo.tree).run(gate, log: log(repo))
        #expect(result.exitCode == 0)
        #expect(!result.passed)
        #expect(result.protectedChanges == ["Tests/golden.txt"])
        #expect(result.otherChanges == ["Sources/a.swift", "build.txt"])
        #expect(result.failures.count == 1)
        #expect(result.failures.first?.contains("gate \"tests\" changed protected paths: Tests/golden.txt") == true)
        #expect(result.json["protected_changes"] == ["Tests/golden.txt"])
        #expect(text(result.log).contains("[planbus] changed protected paths: Tests/golden.txt"))

        // Unprotected changes alone do not fail a gate.
        let other = Gate(name: "build", command: .shell("echo more >> build.txt"), protects: ["Tests/**"])
        let built = try await GateRunner(directory: repo.tree).run(other, log: log(repo, "build"))
        #expect(built.passed)
        #expect(built.otherChanges == ["build.txt"])
    }

    @Test("a protected file already changed before the gate, changed again by it, is caught")
    func alreadyDirty() async throws {
        let repo = try await VerifierRepo.make(["config.yml": "a: 1\n"])
        defer { repo.remove() }
        try repo.write(["config.yml": "a: 2\n", "notes.txt": "untracked\n"])
        let keeps = Gate(name: "keeps", command: .shell("cat config.yml notes.txt"), protects: ["*.yml", "notes.txt"])
        let kept = try await GateRunner(directory: repo.tree).run(keeps, log: log(repo, "keeps"))
        #expect(kept.passed)
        #expect(kept.protectedChanges.isEmpty && kept.otherChanges.isEmpty)

        let edits = Gate(
            name: "edits", command: .shell("echo 'a: 3' > config.yml; echo x >> notes.txt"),
            protects: ["*.yml", "notes.txt"])
        let edited = try await GateRunner(directory: repo.tree).run(edits, log: log(repo, "edits"))
        #expect(!edited.passed)
        #expect(edited.protectedChanges == ["config.yml", "notes.txt"])
    }

    @Test("a gate that commits a change to a protected file is caught by the moved HEAD")
    func committedChange() async throws {
        let repo = try await VerifierRepo.make(["Tests/a.swift": "// test\n"])
        defer { repo.remove() }
        let gate = Gate(
            name: "sneaky",
            command: .shell(
                "echo '// gone' > Tests/a.swift && git -c user.name=x -c user.email=x@x commit -qam sneaky"),
            protects: ["Tests/**"])
        let result = try await GateRunner(directory: repo.tree).run(gate, log: log(repo))
        #expect(result.exitCode == 0)
        #expect(try await repo.git.run(["status", "--porcelain"]).isEmpty)
        #expect(!result.passed)
        #expect(result.protectedChanges == ["Tests/a.swift"])
    }

    @Test("a log inside the work tree is not a change; a folder that is not a work tree is an error")
    func logAndErrors() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let result = try await GateRunner(directory: repo.tree).run(
            Gate(name: "echo", command: .shell("echo hi")), log: repo.tree + "/.evidence/echo.log")
        #expect(result.passed)
        #expect(result.otherChanges.isEmpty)

        let outside = repo.root + "/plain"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        do {
            _ = try await GateRunner(directory: outside).run(
                Gate(name: "echo", command: .shell("echo hi")), log: repo.root + "/plain.log")
            Issue.record("ran a gate outside a work tree")
        } catch {
            #expect(error.code == .git)
        }
    }

    @Test("a list of gates runs in order with numbered logs, all of them or up to the first failure")
    func list() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let gates = [
            Gate(name: "unit tests", command: .shell("exit 1")),
            Gate(name: "lint", command: .argv(["/bin/sh", "-c", "echo fine"])),
        ]
        let folder = repo.root + "/evidence"
        let all = try await GateRunner(directory: repo.tree).run(gates, logFolder: folder)
        #expect(all.map(\.name) == ["unit tests", "lint"])
        #expect(all.map(\.passed) == [false, true])
        #expect(all.map(\.log) == [folder + "/gate-01-unit_tests.log", folder + "/gate-02-lint.log"])
        #expect(all.allSatisfy { FileManager.default.fileExists(atPath: $0.log) })
        let first = try await GateRunner(directory: repo.tree).run(gates, logFolder: folder, stopAtFirstFailure: true)
        #expect(first.map(\.name) == ["unit tests"])
    }

    @Test("the environment given is the gate's")
    func environment() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let runner = GateRunner(directory: repo.tree, environment: ["PATH": "/usr/bin:/bin", "GATE_VALUE": "42"])
        let result = try await runner.run(
            Gate(name: "env", command: .shell("test \"$GATE_VALUE\" = 42")), log: log(repo))
        #expect(result.passed)
        let wrong = try await runner.run(Gate(name: "env", command: .shell("test -n \"$HOME\"")), log: log(repo))
        #expect(wrong.exitCode == 1)
    }
}
