import Bus

/// How the judge rates one candidate of a design competition.
///
/// Only a candidate the verifier approved can win. Among those, the score is
/// `1000 × gates passed / gates run (1 when there are none) + 50 × test files changed (at most 4)
/// − lines changed − 10 × files touched`: passing the gates matters most, then touching tests,
/// then a smaller change. Ties go to the smaller change, then to the lower candidate number.
public struct CandidateScore: Sendable, Equatable {
    public var candidate: Int
    public var commit: String?
    public var approved: Bool
    public var gatesPassed: Int
    public var gatesRun: Int
    public var files: Int
    public var lines: Int
    public var testsChanged: Int
    /// The verifier's first reason to reject it, if it did.
    public var rejection: String?

    public init(
        candidate: Int, commit: String?, approved: Bool, gatesPassed: Int, gatesRun: Int, files: Int, lines: Int,
        testsChanged: Int, rejection: String? = nil
    ) {
        self.candidate = candidate
        self.commit = commit
        self.approved = approved
        self.gatesPassed = gatesPassed
        self.gatesRun = gatesRun
        self.files = files
        self.lines = lines
        self.testsChanged = testsChanged
        self.rejection = rejection
    }

    /// The score; `nil` for a candidate that cannot win (not approved).
    public var score: Int? {
        guard approved else { return nil }
        let gates = gatesRun == 0 ? 1000 : 1000 * gatesPassed / gatesRun
        return gates + 50 * min(testsChanged, 4) - lines - 10 * files
    }

    /// True for a path that looks like a test: under a `test`, `tests`, `Tests`, `spec` or
    /// `__tests__` folder, or named like `*_test.*`, `*Tests.*`, `*.test.*`, `*.spec.*` or
    /// `test_*`.
    public static func isTest(_ path: String) -> Bool {
        let segments = path.split(separator: "/").map(String.init)
        let folders = Set(["test", "tests", "Tests", "spec", "specs", "__tests__", "testing"])
        if segments.dropLast().contains(where: folders.contains) { return true }
        let name = segments.last ?? ""
        let stem = name.split(separator: ".").first.map(String.init) ?? name
        return name.hasPrefix("test_") || stem.hasSuffix("_test") || stem.hasSuffix("Tests") || stem.hasSuffix("Test")
            || name.contains(".test.") || name.contains(".spec.")
    }

    /// The candidates in the order the judge ranks them: the winner first, then the other
    /// approved ones, then those that cannot win.
    public static func ranked(_ scores: [CandidateScore]) -> [CandidateScore] {
        scores.sorted { a, b in
            switch (a.score, b.score) {
            case (let x?, let y?):
                if x != y { return x > y }
                if a.lines != b.lines { return a.lines < b.lines }
                return a.candidate < b.candidate
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.candidate < b.candidate
            }
        }
    }

    /// One line for the judgment's reasons.
    public var line: String {
        guard let score else {
            return "candidate \(candidate): cannot win, rejected by the verifier"
                + (rejection.map { ": \($0)" } ?? "")
        }
        return "candidate \(candidate): score \(score) (gates \(gatesPassed)/\(gatesRun) passed, \(lines) lines in "
            + "\(files) file\(files == 1 ? "" : "s"), \(testsChanged) test file\(testsChanged == 1 ? "" : "s") changed)"
    }

    /// The score as the judgment carries it.
    public var json: JSONValue {
        [
            "candidate": .number(Double(candidate)), "commit": commit.map(JSONValue.string) ?? .null,
            "approved": .bool(approved), "score": score.map { .number(Double($0)) } ?? .null,
            "gates_passed": .number(Double(gatesPassed)), "gates_run": .number(Double(gatesRun)),
            "files": .number(Double(files)), "lines": .number(Double(lines)),
            "tests_changed": .number(Double(testsChanged)), "reason": .string(line),
        ]
    }
}
