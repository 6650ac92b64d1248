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

    /// `text` (the file, or `nil` when there is none) with the task's entry added; `nil` when the
    /// run's section already has an entry for the task, so an entry is written once however many
    /// times it is asked for.
    public static func adding(
        to text: String?, run: String, plan: String, task: String, title: String, attempts: Int, commit: String
    ) -> String? {
        var lines = (text ?? "# Changelog\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let heading = "## \(plan) (run \(run))"
        let entry = "- \(title) (`\(task)`, attempt \(attempts), merge \(commit.prefix(12)))"
        if let start = lines.firstIndex(of: heading) {
            var end = start + 1
            while end < lines.count, !lines[end].hasPrefix("## ") && !lines[end].hasPrefix("# ") { end += 1 }
            if lines[start..<end].contains(where: { $0.hasPrefix("- ") && $0.contains("(`\(task)`, ") }) { return nil }
            var insert = end
            while insert > start + 1, lines[insert - 1].isEmpty { insert -= 1 }
            lines.insert(entry, at: insert)
        } else {
            // Newest run first: before the first section, after the title and its introduction.
            var at = 0
            if let first = lines.firstIndex(where: { !$0.isEmpty }), lines[first].hasPrefix("# ") {
                at = lines[(first + 1)...].firstIndex { $0.hasPrefix("## ") } ?? lines.count
            }
            var block = [heading, "", entry, ""]
            if at > 0, !lines[at - 1].isEmpty { block.insert("", at: 0) }
            lines.insert(contentsOf: block, at: at)
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }
}
