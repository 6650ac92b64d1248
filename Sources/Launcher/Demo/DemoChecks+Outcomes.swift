import Bus
import Foundation
import Roles

extension DemoChecks {
    /// Every attempt of the scope task was rejected with a scope finding naming a path the
    /// attempt's commit really changed, and the task failed.
    func scope(_ e: DemoEvidence) async -> DemoScenario {
        let title = "a change outside its scope was rejected"
        let task = DemoPlan.docs
        let verdicts = e.verdicts(of: task)
        var named: [String] = []
        var confirmed = true
        for verdict in verdicts {
            let paths = (verdict.body["findings"]?.arrayValue ?? []).filter { $0["check"] == "scope" }
                .compactMap { $0["message"]?.stringValue?.components(separatedBy: " is outside").first }
            guard verdict.body["approved"] == .bool(false), !paths.isEmpty,
                let commit = verdict.body["commit"]?.stringValue
            else {
                confirmed = false
                continue
            }
            let changed = await changedPaths(commit)
            if !paths.allSatisfy(changed.contains) { confirmed = false }
            named += paths
        }
        let state = e.task(task)?["state"]?.stringValue ?? "?"
        let attempts = e.task(task)?["attempts"]?.intValue ?? 0
        let message =
            verdicts.first?.body["findings"]?.arrayValue?.first { $0["check"] == "scope" }?["message"]?.stringValue
            ?? "no scope finding"
        let paths = Array(Set(named)).sorted()
        return DemoScenario(
            key: "scope", title: title,
            passed: !verdicts.isEmpty && confirmed && state == "failed" && attempts == verdicts.count,
            evidence: "\(task): \(verdicts.count) attempt\(verdicts.count == 1 ? "" : "s") rejected (\(message)); "
                + "git shows \(confirmed ? "each" : "NOT each") rejected commit changed "
                + (paths.isEmpty ? "the named path" : paths.joined(separator: ", "))
                + "; \(task) ended \(state) after \(attempts) attempt\(attempts == 1 ? "" : "s")")
    }

    /// The candidates built different commits, the judge named a winner with scores, and only the
    /// winner's commit is on the integration branch.
    func competition(_ e: DemoEvidence) async -> DemoScenario {
        let title = "two candidates competed, the judge picked one"
        let task = DemoPlan.reverse
        guard let judgment = e.judgments.first(where: { $0.task == task }),
            let winner = judgment.body["winner"]?.intValue
        else {
            return DemoScenario(
                key: "competition", title: title, passed: false, evidence: "no judgment names a winner of \(task)")
        }
        let scores = (judgment.body["scores"]?.arrayValue ?? []).compactMap { s -> (Int, Int?, String)? in
            guard let candidate = s["candidate"]?.intValue, let commit = s["commit"]?.stringValue else { return nil }
            return (candidate, s["score"]?.intValue, commit)
        }.sorted { $0.0 < $1.0 }
        let commits = Set(scores.map(\.2))
        var onBranch: [Int] = []
        for (candidate, _, commit) in scores {
            if await contains(integration, commit) { onBranch.append(candidate) }
        }
        let built = Set(e.builds(of: task).map(\.candidate))
        let state = e.task(task)?["state"]?.stringValue ?? "?"
        let passed =
            scores.count == 2 && commits.count == 2 && built == [1, 2] && onBranch == [winner]
            && state == "integrated"
        let scoreText = scores.map { "candidate \($0.0): \($0.1.map(String.init) ?? "cannot win")" }
            .joined(separator: ", ")
        return DemoScenario(
            key: "competition", title: title, passed: passed,
            evidence: "\(task): \(built.count) candidates built \(commits.count) different commits "
                + "(\(scores.map { Self.short($0.2) }.joined(separator: ", "))); the judge scored \(scoreText) and "
                + "picked candidate \(winner); on \(integration): "
                + (onBranch.isEmpty ? "none" : onBranch.map { "candidate \($0)" }.joined(separator: ", ")))
    }

    /// The docs role wrote HANDOFF.html, and its table of attempts has a row for every task of
    /// the plan.
    func handoff(_ e: DemoEvidence, plan: Plan?) -> DemoScenario {
        let title = "the handoff was written"
        let path = e.layout.run(run) + "/HANDOFF.html"
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            return DemoScenario(key: "handoff", title: title, passed: false, evidence: "\(path) is missing")
        }
        let text = String(decoding: data, as: UTF8.self)
        let ids = plan?.tasks.map(\.id) ?? []
        // Each task has its own row in the handoff's table of attempts and time.
        let missing = ids.filter { !text.contains("<tr><td>\($0)</td>") }
        let next = e.layout.run(run) + "/next-plan.yaml"
        let nextTasks = (try? PlanLoader.load(path: next))?.tasks.map(\.id)
        return DemoScenario(
            key: "handoff", title: title, passed: !ids.isEmpty && missing.isEmpty,
            evidence: "\(path) (\(data.count / 1024) KB) "
                + (missing.isEmpty
                    ? "names all \(ids.count) tasks" : "does NOT name \(missing.joined(separator: ", "))")
                + (nextTasks.map { "; next-plan.yaml offers \($0.joined(separator: ", "))" } ?? ""))
    }
}
