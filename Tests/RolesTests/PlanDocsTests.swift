import Foundation
import Roles
import Testing

/// The text of `docs/PLAN.md`.
func planDocs() throws -> String {
    let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    let file = tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/PLAN.md")
    return try String(contentsOf: file, encoding: .utf8)
}

/// The first fenced block of `language` after `heading` in `text`.
func fencedBlock(_ language: String, after heading: String, in text: String) throws -> String {
    let section = try #require(text.range(of: heading)).upperBound
    let open = try #require(text.range(of: "```\(language)\n", range: section..<text.endIndex))
    let close = try #require(text.range(of: "\n```\n", range: open.upperBound..<text.endIndex))
    return String(text[open.upperBound..<close.lowerBound]) + "\n"
}

@Suite("docs/PLAN.md")
struct PlanDocsTests {
    @Test("the example plan is valid and its route is the one shown")
    func example() async throws {
        let docs = try planDocs()
        let folder = try await PlanFolder()
        let yaml = try fencedBlock("yaml", after: "## 9. Example", in: docs)
        let plan = try PlanLoader.load(path: try folder.write(yaml, name: "repo/plan.yaml"))
        #expect(plan.tasks.count == 4)
        #expect(plan.tasks.contains { $0.candidates == 2 })
        #expect(plan.tasks.contains { $0.needsApproval })
        #expect(plan.tasks.contains { !$0.dependsOn.isEmpty })
        let route = PlanRoute(plan: plan)
        #expect(route.waves.first?.count == 2)
        let shown = try fencedBlock("text", after: "Its route:", in: docs)
        let text = route.text.replacingOccurrences(of: folder.repository, with: "/home/ana/shop")
        #expect(text == shown)
    }

    @Test("the error examples are the messages planbus gives")
    func errorExamples() async throws {
        let docs = try planDocs()
        let folder = try await PlanFolder()
        let messages = [
            try folder.error(loading: header + "tasks:\n" + taskA + "    depend_on: [b]\n"),
            try folder.error(
                loading: header + "tasks:\n" + task("x", "    depends_on: [b]\n") + task("a", "    depends_on: [b]\n")
                    + task("b", "    depends_on: [c]\n") + task("c", "    depends_on: [a]\n")),
            try folder.error(
                loading: header + "tasks:\n" + taskA.replacingOccurrences(of: "[src/a/**]", with: "[src/**, /etc/**]")),
        ]
        for message in messages {
            let shown = try #require(message?.message).replacingOccurrences(of: folder.path, with: "/home/ana/shop")
            #expect(docs.contains(shown + "\n"), "docs/PLAN.md does not show \(shown)")
        }
    }

    @Test("every key the loader knows is documented in a table")
    func keysDocumented() throws {
        let docs = try planDocs()
        let keys = [
            "version", "name", "goal", "risk", "repository", "base_branch", "gates", "preflight", "smoke",
            "max_attempts", "budget", "tasks", "id", "title", "prompt", "scope", "depends_on", "run", "candidates",
            "needs_approval", "command", "timeout", "protects", "files", "lines",
        ]
        for key in keys {
            #expect(docs.contains("| `\(key)` |"), "no row for \(key)")
        }
        for variable in ["PLANBUS_RUN", "PLANBUS_TASK", "PLANBUS_ATTEMPT", "PLANBUS_FEEDBACK"] {
            #expect(docs.contains("| `\(variable)` |"), "no row for \(variable)")
        }
    }
}
