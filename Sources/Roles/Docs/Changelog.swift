import Foundation

/// The changelog entries the docs role writes on a run's integration branch, in `CHANGELOG.md`.
///
/// Each run gets a section, `## <plan> (run <run>)`, placed after the file's `# ` title (or
/// first, when there is none), and each integrated task a line in it, in the order they were
/// integrated:
///
/// ```
/// - Search endpoint (`api`, attempt 2, merge 1a2b3c4d5e6f)
/// ```
public enum Changelog {
    /// The changelog's path in the repository.
    public static let path = "CHANGELOG.md"

    /// One task's entry.
    public struct Entry: Sendable, Equatable {
        public var task: String
        public var title: String
        public var attempts: Int
        public var commit: String
        /// A sentence or two on what changed, by the docs role's model (`nil` offline).
        public var prose: String?

        public init(task: String, title: String, attempts: Int, commit: String, prose: String? = nil) {
            self.task = task
            self.title = title
            self.attempts = attempts
            self.commit = commit
            self.prose = prose
        }

        /// The entry's line: the facts, then the prose on the same line.
        public var line: String {
            let facts = "- \(title) (`\(task)`, attempt \(attempts), merge \(commit.prefix(12)))"
            guard let prose else { return facts }
            let oneLine = prose.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: " ")
            return oneLine.isEmpty ? facts : facts + ": " + String(oneLine.prefix(400))
        }
    }

    /// `text` (the file, or `nil` when there is none) with the entries added to the run's section,
    /// in the order given, leaving out each task that already has an entry there (or earlier in
    /// `entries`); `nil` when nothing is added, so an entry is written once however many times it
    /// is asked for. The file is read once, whatever the number of entries.
    public static func adding(_ entries: [Entry], to text: String?, run: String, plan: String) -> String? {
        var lines = (text ?? "# Changelog\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let heading = "## \(plan) (run \(run))"
        var section: Range<Int>?
        if let start = lines.firstIndex(of: heading) {
            var end = start + 1
            while end < lines.count, !lines[end].hasPrefix("## ") && !lines[end].hasPrefix("# ") { end += 1 }
            section = start..<end
        }
        var written: Set<String> = []
        for line in section.map({ lines[$0] }) ?? [] where line.hasPrefix("- ") {
            // "- <title> (`<task>`, attempt …": the task is the last back-quoted name before ", attempt".
            if let close = line.range(of: "`, attempt ", options: .backwards),
                let open = line[..<close.lowerBound].range(of: "(`", options: .backwards)
            {
                written.insert(String(line[open.upperBound..<close.lowerBound]))
            }
        }
        let fresh = entries.filter { written.insert($0.task).inserted }.map(\.line)
        guard !fresh.isEmpty else { return nil }
        if let section {
            var insert = section.upperBound
            while insert > section.lowerBound + 1, lines[insert - 1].isEmpty { insert -= 1 }
            lines.insert(contentsOf: fresh, at: insert)
        } else {
            // Newest run first: before the first section, after the title and its introduction.
            var at = 0
            if let first = lines.firstIndex(where: { !$0.isEmpty }), lines[first].hasPrefix("# ") {
                at = lines[(first + 1)...].firstIndex { $0.hasPrefix("## ") } ?? lines.count
            }
            var block = [heading, ""] + fresh + [""]
            if at > 0, !lines[at - 1].isEmpty { block.insert("", at: 0) }
            lines.insert(contentsOf: block, at: at)
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }
}
