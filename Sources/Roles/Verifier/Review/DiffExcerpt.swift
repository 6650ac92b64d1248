import Bus

/// The text of a change for a model to read: `git diff` from a base to a commit, cut to a size a
/// prompt can hold, and saying when it was cut.
public struct DiffExcerpt: Sendable, Equatable {
    /// The diff, or its first ``limit`` bytes (cut at a line's end).
    public var text: String
    /// The size of the whole diff, in bytes.
    public var totalBytes: Int
    /// True when ``text`` is only the start of the diff.
    public var cut: Bool { text.utf8.count < totalBytes }

    /// The most bytes of diff a prompt gets by default.
    public static let limit = 60_000

    /// Cuts `diff` to at most `limit` bytes, at the end of a line.
    public init(_ diff: String, limit: Int = DiffExcerpt.limit) {
        totalBytes = diff.utf8.count
        guard totalBytes > limit else {
            text = diff
            return
        }
        var head = String(decoding: Array(diff.utf8.prefix(limit)), as: UTF8.self)
        if let newline = head.lastIndex(of: "\n") { head = String(head[...newline]) }
        text = head
    }

    /// The diff of `commit` against `base`, read from git.
    /// - Throws: ``RoleError`` `git` when git fails.
    public static func read(git: Git, from base: String, to commit: String, limit: Int = DiffExcerpt.limit)
        async throws(RoleError) -> DiffExcerpt
    {
        DiffExcerpt(
            try await git.run(["diff", "--no-color", "--no-ext-diff", Git.revision(base), Git.revision(commit)]),
            limit: limit)
    }

    /// A line for the prompt saying whether the diff is whole.
    public var note: String {
        cut
            ? "The diff was cut: it shows the first \(text.utf8.count) of \(totalBytes) bytes; read the files in the "
                + "checkout for the rest."
            : "The diff is complete (\(totalBytes) bytes)."
    }

    /// The changed files with their added and deleted lines, one per line (`- path (+a -d)`).
    public static func stat(_ diff: DiffSummary) -> String {
        guard !diff.files.isEmpty else { return "(no files changed)" }
        return diff.files.map { file in
            "- \(file.path) (" + (file.added.map { "+\($0)" } ?? "binary") + (file.deleted.map { " -\($0)" } ?? "")
                + ")"
        }.joined(separator: "\n")
    }

    /// The gates of a verdict (their JSON, see ``GateResult/json``), one line each.
    public static func gates(_ gates: [JSONValue]) -> String {
        guard !gates.isEmpty else { return "(no gates ran)" }
        return gates.map { gate in
            let name = gate["name"]?.stringValue ?? "?"
            let passed = gate["passed"] == .bool(true)
            return "- \(name): \(passed ? "passed" : "failed") (\(gate["outcome"]?.stringValue ?? "?"))"
                + (gate["command"]?.stringValue.map { ": `\($0)`" } ?? "")
        }.joined(separator: "\n")
    }
}
