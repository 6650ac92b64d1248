import Bus
import BusTesting
import Foundation
import Testing

/// `planbus bench chaos`: a real run under `planbus up` while role processes, and the supervisor
/// once, are SIGKILLed; the driver's own checks are asserted one by one.
@Suite("Chaos", .serialized)
struct ChaosTests {
    /// The checks every chaos run makes.
    static let checks = [
        "run finished", "integrated once", "dependency order", "no envelope lost", "no dead letters", "no leftovers",
        "supervision",
    ]

    @Test(
        "24 tasks, a kill every 0.2–1 s and the supervisor killed once: every task integrated once, nothing lost or left"
    )
    func smallRun() async throws {
        let result = try await planbus(
            "bench", "chaos", "--tasks", "24", "--builders", "4", "--verifiers", "2", "--min-interval", "0.2",
            "--max-interval", "1.0", "--timeout", "150s", "--json")
        let progress = result.stderr.split(separator: "\n").suffix(40).joined(separator: "\n")
        #expect(result.code == 0, "planbus bench chaos exited \(result.exit):\n\(progress)")
        let report = try #require(try? JSONValue.parse(Array(result.stdout.utf8)), "no JSON report:\n\(progress)")
        let seed = report["seed"]?.stringValue ?? "?"
        let checks = report["checks"]?.arrayValue ?? []
        let names = checks.compactMap { $0["name"]?.stringValue }
        for name in Self.checks { #expect(names.contains(name), "check \(name) missing (seed \(seed))") }
        for check in checks {
            #expect(
                check["passed"] == .bool(true),
                "\(check["name"]?.stringValue ?? "?"): \(check["detail"]?.stringValue ?? "") (seed \(seed))")
        }
        #expect(report["passed"] == .bool(true))
        #expect(report["dead_letters"]?.arrayValue?.isEmpty == true, "dead letters: \(report["dead_letters"] ?? .null)")

        let kills = try #require(report["kills"])
        let total = kills["total"]?.intValue ?? 0
        #expect(total > 0, "no kill was made (seed \(seed))")
        #expect(kills["per_role"]?["supervisor"]?.intValue == 1, "the supervisor was not killed once: \(kills)")
        let roleKills = (kills["per_role"]?.objectValue ?? [:]).filter { $0.key != "supervisor" }
        #expect(roleKills.values.reduce(0) { $0 + ($1.intValue ?? 0) } > 0, "no role process was killed")
        let recovery = try #require(report["recovery"])
        #expect((recovery["takeovers"]?.intValue ?? 0) > 0, "no take-over in the journal (seed \(seed))")
        #expect((recovery["reclaimed"]?["n"]?.intValue ?? 0) > 0, "no recovery was measured (seed \(seed))")
        #expect(recovery["unrecovered"]?.arrayValue?.isEmpty == true)
    }

    @Test("bad options exit 3 and name the option")
    func badOptions() async throws {
        for arguments in [
            ["--tasks", "0"], ["--builders", "65"], ["--verifiers", "0"],
            ["--min-interval", "2", "--max-interval", "1"],
            ["--timeout", "soon"],
        ] {
            let result = try await runCommand([Executables.planbus, "bench", "chaos"] + arguments)
            #expect(result.code == 3, "\(arguments): exit \(result.exit), \(result.stderr)")
            #expect(result.stderr.contains(arguments[0]), "\(arguments): \(result.stderr)")
        }
    }

    @Test("--help names the checks and the figures")
    func help() async throws {
        let result = try await planbus("bench", "chaos", "--help")
        #expect(result.code == 0)
        for phrase in ["exactly once", "no envelope lost", "no leftovers", "take-overs", "p90", "--seed"] {
            #expect(result.stdout.contains(phrase), "--help lacks \(phrase)")
        }
    }
}
