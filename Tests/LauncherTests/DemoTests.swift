import Bus
import BusTesting
import Foundation
import Launcher
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `planbus demo`, run as the real binary: the roles under `planbus up`, a real git repository,
/// a real run of the demo's plan.
@Suite("planbus demo", .serialized, .timeLimit(.minutes(4)))
struct DemoTests {
    private func scratch() -> String {
        FileManager.default.temporaryDirectory.path + "/planbus-demo-test-" + UUID().uuidString.prefix(8)
    }

    /// Live processes whose command line names `folder` (the supervisor and every role, which
    /// get `--config` or `--bus` inside it).
    private func processes(in folder: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != getpid(), isLive(pid), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(folder + "/")
        }
    }

    private let scenarioKeys: Set<String> = [
        "run", "parallel", "dependent", "retry", "scope", "competition", "handoff",
    ]

    @Test("runs the plan end to end: every scenario checked true, the folder left, no role left running")
    func demo() async throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = ContinuousClock.now
        let result = try await runCommand([Executables.planbus, "demo", "--dir", dir, "--json"])
        let took = ContinuousClock.now - started
        #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)")
        let summary = try JSONValue.parse(result.stdout)
        let scenarios = summary["scenarios"]?.arrayValue ?? []
        #expect(Set(scenarios.compactMap { $0["key"]?.stringValue }) == scenarioKeys)
        for scenario in scenarios {
            #expect(scenario["passed"] == .bool(true), "\(scenario.serialized())")
            #expect((scenario["evidence"]?.stringValue ?? "").count > 20)
        }
        #expect(summary["passed"] == .bool(true))
        #expect(summary["roles_stopped"] == .bool(true))
        #expect(took < .seconds(60), "the demo took \(took)")

        // The folder is left as it was: the repository, the configuration, the plan, the bus.
        let run = try #require(summary["run"]?.stringValue)
        #expect(summary["folder"]?.stringValue == dir)
        for path in ["repo/.git", "planbus.yaml", "plan.yaml", "bus/VERSION", "bus/runs/\(run)/status.json"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + path), "\(path)")
        }
        let handoff = try #require(summary["handoff"]?.stringValue)
        #expect(handoff == dir + "/bus/runs/\(run)/HANDOFF.html")
        #expect(try String(contentsOfFile: handoff, encoding: .utf8).contains("farewell"))

        // The repository: main untouched, the integration branch holds the approved changes.
        let git = Git(directory: dir + "/repo")
        #expect(try await git.run(["rev-list", "--count", "main"]) == "1")
        let integration = RunMessages.integrationBranch(run)
        #expect(try await git.run(["show", "\(integration):bye.sh"]).contains("Goodbye"))
        let files = try await git.run(["ls-tree", "-r", "--name-only", integration]).split(separator: "\n")
        #expect(files.contains("lib/upper.sh") && files.contains("lib/reverse.sh") && !files.contains("docs/usage.md"))
        #expect(try await git.run(["show", "\(integration):VERSION"]) == "0.1.0")

        // No role process is left, and every worker's heartbeat says it stopped.
        #expect(processes(in: dir).isEmpty, "still running: \(processes(in: dir))")
        if let pid = summary["supervisor_pid"]?.intValue { #expect(!isLive(Int32(pid))) }
        let workers = WorkerStatus.collect(bus: try Bus.open(at: dir + "/bus"))
        #expect(workers.count == 6)
        #expect(workers.allSatisfy { $0.state == "stopped" }, "\(workers.map(\.json))")
    }

    @Test("with --keep the roles keep running until planbus down")
    func keep() async throws {
        let dir = scratch()
        defer {
            for pid in processes(in: dir) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: dir)
        }
        let result = try await runCommand([Executables.planbus, "demo", "--dir", dir, "--keep"])
        #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("── planbus status "))
        #expect(result.stdout.contains("✓ two candidates competed, the judge picked one"))
        #expect(!result.stdout.contains("✗"))
        #expect(processes(in: dir).count == 7, "the supervisor and 6 roles: \(processes(in: dir))")

        let down = try await runCommand([Executables.planbus, "down", "--config", dir + "/planbus.yaml", "--json"])
        #expect(down.code == 0, "\(down.stdout)\n\(down.stderr)")
        #expect(await eventually { processes(in: dir).isEmpty })
    }

    @Test("refuses a folder that has files in it, and changes nothing there")
    func refusesUsedFolder() async throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "mine\n".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        let result = try await runCommand([Executables.planbus, "demo", "--dir", dir])
        #expect(result.code == 3)
        #expect(result.stderr.contains("is not empty"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["notes.txt"])
        #expect(try String(contentsOfFile: dir + "/notes.txt", encoding: .utf8) == "mine\n")
    }
}
