import Bus

/// One thing `planbus demo` set out to show, and whether the bus and git show it happened.
public struct DemoScenario: Sendable, Equatable {
    /// A short key: `run`, `parallel`, `dependent`, `retry`, `scope`, `competition`, `handoff`.
    public var key: String
    /// What it shows, in a few words.
    public var title: String
    /// True when the evidence shows it happened.
    public var passed: Bool
    /// What was found, computed from the bus and git: ids, times, commits, paths, scores.
    public var evidence: String

    public init(key: String, title: String, passed: Bool, evidence: String) {
        self.key = key
        self.title = title
        self.passed = passed
        self.evidence = evidence
    }

    /// One line for people: a check mark or a cross, the title, the evidence.
    public var line: String { "\(passed ? "✓" : "✗") \(title): \(evidence)" }

    /// `key`, `title`, `passed` and `evidence`.
    public var json: JSONValue {
        ["key": .string(key), "title": .string(title), "passed": .bool(passed), "evidence": .string(evidence)]
    }
}
