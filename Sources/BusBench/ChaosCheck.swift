import Bus

/// One check of the chaos run and its outcome.
public struct ChaosCheck: Sendable, Equatable {
    /// A short name, such as `integrated once`.
    public var name: String
    /// Whether it holds.
    public var passed: Bool
    /// What was found: the figures when it holds, every offending item when it does not.
    public var detail: String

    /// A check named `name`; it holds when `problems` is empty, whose lines (at most 20, then a
    /// count) are the detail; `ok` is the detail otherwise.
    init(_ name: String, problems: [String], ok: String) {
        self.name = name
        passed = problems.isEmpty
        if problems.isEmpty {
            detail = ok
        } else {
            let shown = problems.prefix(20).joined(separator: "; ")
            detail = problems.count > 20 ? shown + "; and \(problems.count - 20) more" : shown
        }
    }

    /// `{name, passed, detail}`.
    public var json: JSONValue { ["name": .string(name), "passed": .bool(passed), "detail": .string(detail)] }
}
