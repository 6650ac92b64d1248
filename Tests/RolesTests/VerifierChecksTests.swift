import Bus
import Foundation
import Roles
import Testing

/// A scratch git repository with one commit on `main`, for the verifier's checks.
struct VerifierRepo {
    let root: String
    let git: Git
    /// The first commit.
    let base: String

    /// The repository's work tree.
    var tree: String { root + "/repo" }

    /// A new repository whose first commit holds `files` (path to text).
    static func make(_ files: [String: String] = ["README.md": "hello\n"]) async throws -> VerifierRepo {
        let root = FileManager.default.temporaryDirectory.path + "/planbus-checks-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root + "/repo", withIntermediateDirectories: true)
        let git = Git(directory: root + "/repo")
        try await git.run(["init", "-q", "-b", "main"])
        let repo = VerifierRepo(root: root, git: git, base: "")
        try repo.write(files)
        let base = try #require(try await git.commitAll(message: "start", trailers: []))
        return VerifierRepo(root: root, git: git, base: base)
    }

    /// Writes files in the work tree, creating their folders.
    func write(_ files: [String: String]) throws {
        for (path, text) in files {
            let full = tree + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
    }

    /// Commits everything and returns the commit.
    func commit(_ message: String = "change") async throws -> String {
        try #require(try await git.commitAll(message: message, trailers: []))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// Scope: every changed path must match a scope glob.
@Suite("Scope check")
struct ScopeCheckTests {
    @Test("a change inside the scope has no finding; each path outside it, deleted ones too, has one")
    func scope() async throws {
        let repo = try await VerifierRepo.make(["README.md": "hi\n", "docs/old.md": "old\n"])
        defer { repo.remove() }
        try repo.write(["Sources/App/main.swift": "print(1)\n", "Tests/AppTests/a.swift": "// a\n"])
        let inside = try await repo.commit()
        let check = ScopeCheck(scope: ["Sources/**", "Tests/**/*.swift"])
        #expect(check.findings(for: try await repo.git.diff(from: repo.base, to: inside)).isEmpty)

        try repo.write(["Sources/App/util.swift": "// u\n", "docs/new.md": "new\n", "Package.swift": "// p\n"])
        try FileManager.default.removeItem(atPath: repo.tree + "/docs/old.md")
        let outside = try await repo.commit()
        let findings = check.findings(for: try await repo.git.diff(from: inside, to: outside))
        #expect(findings.map(\.check) == [.scope, .scope, .scope])
        let messages = findings.map(\.message)
        #expect(messages.contains { $0.hasPrefix("docs/new.md is outside the task's scope") })
        #expect(messages.contains { $0.hasPrefix("docs/old.md is outside") })
        #expect(messages.contains { $0.hasPrefix("Package.swift is outside") })
        #expect(messages.allSatisfy { $0.contains("Sources/**, Tests/**/*.swift") })
        #expect(!messages.contains { $0.contains("util.swift") })
    }

    @Test("many paths outside the scope: the first ones one by one, then a count of the rest")
    func manyOutside() {
        let paths = (1...80).map { "x/\($0).txt" }
        let diff = DiffSummary(numstatZ: paths.map { "1\t0\t\($0)\0" }.joined())
        let findings = ScopeCheck(scope: ["src/**"]).findings(for: diff)
        #expect(findings.count == ScopeCheck.findingLimit + 1)
        #expect(findings.first?.message.hasPrefix("x/1.txt is outside") == true)
        #expect(findings.last?.message == "and 30 more paths outside the task's scope (80 in all)")
        #expect(ScopeCheck(scope: []).outside(["a"]) == ["a"])
    }
}

/// Budget: files and lines against the limits.
@Suite("Budget check")
struct BudgetCheckTests {
    @Test("files and lines over the limits are findings with the numbers; at or under them, none")
    func budget() async throws {
        let repo = try await VerifierRepo.make(["a.txt": "1\n2\n3\n"])
        defer { repo.remove() }
        try repo.write(["a.txt": "1\nTWO\n3\n4\n", "b.txt": "b\nb\n", "c.txt": "c\n"])
        let head = try await repo.commit()
        let diff = try await repo.git.diff(from: repo.base, to: head)
        #expect(diff.files.count == 3)
        #expect(diff.lines == 6)

        let over = BudgetCheck(budget: PlanBudget(files: 2, lines: 5)).findings(for: diff)
        #expect(over.map(\.check) == [.budget, .budget])
        #expect(over[0].message == "the change touches 3 files, over the budget of 2 files (1 too many)")
        #expect(
            over[1].message
                == "the change has 6 changed lines (5 added, 1 deleted), over the budget of 5 lines (1 too many)")

        #expect(BudgetCheck(budget: PlanBudget(files: 3, lines: 6)).findings(for: diff).isEmpty)
        #expect(BudgetCheck(budget: PlanBudget()).findings(for: diff).isEmpty)
        let linesOnly = BudgetCheck(budget: PlanBudget(lines: 1)).findings(for: diff)
        #expect(linesOnly.count == 1)
        #expect(linesOnly.first?.message.contains("over the budget of 1 line ") == true)
        let filesOnly = BudgetCheck(budget: PlanBudget(files: 1)).findings(for: diff)
        #expect(filesOnly.map(\.message) == ["the change touches 3 files, over the budget of 1 file (2 too many)"])
    }
}

/// The verdict: gates and findings together, its JSON and the feedback text.
@Suite("Gate verdicts")
struct GateVerdictTests {
    func gate(_ name: String, _ outcome: GateResult.Outcome, tail: [String] = []) -> GateResult {
        GateResult(
            name: name, command: "make \(name)", outcome: outcome, duration: .milliseconds(1500),
            log: "/evidence/\(name).log", logTail: tail)
    }

    @Test("approved only when every gate passed and nothing was found")
    func approval() {
        let passing = gate("lint", .exited(0), tail: ["all good"])
        let approved = Verification(gates: [passing], findings: [])
        #expect(approved.approved)
        #expect(approved.findings.isEmpty)
        #expect(approved.json["verdict"] == "approved")
        #expect(approved.json["approved"] == true)
        #expect(approved.feedback.hasPrefix("Approved"))
        #expect(!approved.feedback.contains("all good"))

        let scoped = Verification(gates: [passing], findings: [Finding(.scope, "x.md is outside the task's scope")])
        #expect(!scoped.approved)
        #expect(Verification(gates: [], findings: []).approved)
        #expect(!Verification(gates: [passing, gate("tests", .timedOut(.seconds(1)))], findings: []).approved)
    }

    @Test("a rejection lists each finding on its own line, failed gates first, then their log tails")
    func rejection() throws {
        let tail = (61...100).map { "test line \($0)" }
        let failed = gate("tests", .exited(3), tail: tail)
        let verdict = Verification(
            gates: [gate("lint", .exited(0), tail: ["lint output"]), failed],
            findings: [
                Finding(.scope, "docs/x.md is outside the task's scope (the task's scope is Sources/**)"),
                Finding(.secrets, "a.env:3: AWS access key id: AKIA****************"),
            ])
        #expect(!verdict.approved)
        #expect(verdict.findings.map(\.check) == [.gate, .scope, .secrets])
        #expect(verdict.findings[0].evidence == "/evidence/tests.log")
        #expect(verdict.findings[0].message == "gate \"tests\" failed: `make tests` exited with status 3")

        let lines = verdict.feedback.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "Rejected: 3 problems.")
        #expect(
            lines[1] == "- gate: gate \"tests\" failed: `make tests` exited with status 3 (log: /evidence/tests.log)")
        #expect(lines[2].hasPrefix("- scope: docs/x.md is outside"))
        #expect(lines[3] == "- secrets: a.env:3: AWS access key id: AKIA****************")
        #expect(lines.contains("The last 40 lines of the log of gate \"tests\" (/evidence/tests.log):"))
        #expect(lines.contains("    test line 61"))
        #expect(lines.contains("    test line 100"))
        // A passing gate's log is not quoted.
        #expect(!verdict.feedback.contains("lint output"))

        let json = verdict.json
        #expect(json["verdict"] == "rejected")
        #expect(json["approved"] == false)
        #expect(json["feedback"]?.stringValue == verdict.feedback)
        let findings = try #require(json["findings"]?.arrayValue)
        #expect(findings.compactMap(Finding.init(json:)) == verdict.findings)
        let gates = try #require(json["gates"]?.arrayValue)
        #expect(gates.map { $0["passed"] } == [true, false])
        #expect(gates[1]["exit_code"] == 3)
        #expect(gates[1]["duration_ms"] == 1500)
        #expect(gates[1]["log"] == "/evidence/tests.log")
        // The JSON survives a round trip through text.
        #expect(try JSONValue.parse(json.serialized()) == json)
    }

    @Test("a finding's JSON carries its evidence only when it has some")
    func findingJSON() {
        let plain = Finding(.budget, "too big")
        #expect(plain.json == ["check": "budget", "message": "too big"])
        #expect(Finding(json: plain.json) == plain)
        let backed = Finding(.gate, "failed", evidence: "/e/log")
        #expect(backed.json["evidence"] == "/e/log")
        #expect(Finding(json: backed.json) == backed)
        #expect(Finding(json: ["check": "nonsense", "message": "x"]) == nil)
        #expect(Finding.Check.allCases.map(\.rawValue) == ["gate", "scope", "budget", "secrets", "review"])
    }
}
