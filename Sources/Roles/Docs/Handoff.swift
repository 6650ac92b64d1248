import Bus
import Foundation

/// The report of a finished run: what shipped with its proof, what failed and why, attempts and
/// time per task, usage and cost, the next prompt and the next plan.
struct Handoff {
    struct TaskReport {
        var task: PlanTask
        var state: String
        var attempts: Int?
        var commit: String?
        var reason: String?
        var blockedBy: String?
        var gates: [(name: String, outcome: String, log: String)]
        var evidence: String?
        var diff: String?
        var elapsed: Duration?
        /// The judge's reasons, a person's decision, questions and answers.
        var notes: [String] = []
    }

    var run: String
    var plan: Plan
    var halted: String?
    var tasks: [TaskReport]
    var nextPlan: String?
    var nextPlanFile: String?
    /// The preflight and smoke gates' outcomes, one line each.
    var checks: [String] = []
    /// The run's stage documents (`DISCOVERY.md`, `SPEC.md`) that exist.
    var documents: [String] = []
    /// What agents used and cost in the run, by role (empty when its roles ran offline).
    var usage: [RunUsage.Group] = []
    var usageTotal: RunUsage.Group?
    /// The docs role's model's summary of the run, over the facts below it (`nil` offline).
    var summary: String?

    /// The usage lines: one per role, then the total, with where each cost came from.
    var usageLines: [String] {
        guard let usageTotal, usageTotal.calls > 0 else {
            return ["unknown: no agent reported usage in this run (its roles ran offline)."]
        }
        func line(_ g: RunUsage.Group) -> String {
            let cost = g.sources.isEmpty ? "cost unknown" : String(format: "$%.4f", g.costUSD)
            func n(_ value: Int, _ name: String) -> String { g.known.contains(name) ? "\(value)" : "unknown" }
            return "\(g.key): \(CheckText.count(g.calls, "call")), \(n(g.input, "input")) input and "
                + "\(n(g.output, "output")) output tokens (\(n(g.cacheRead, "cache_read")) cache reads, "
                + "\(n(g.cacheWrite, "cache_write")) cache writes), \(cost) (\(g.costSource))"
        }
        return usage.map(line) + [line(usageTotal)]
    }

    var shipped: [TaskReport] { tasks.filter { $0.state == "integrated" } }
    var unfinished: [TaskReport] { tasks.filter { $0.state != "integrated" } }

    /// The prompt to paste into an agent, or a person, to go on.
    var nextPrompt: String {
        if unfinished.isEmpty {
            return "Run \(run) of plan \"\(plan.name)\" integrated every task on branch "
                + "\(RunMessages.integrationBranch(run)). Review it and merge it into \(plan.baseBranch).\n"
        }
        var text = "Continue plan \"\(plan.name)\" (goal: \(plan.goal)). Run \(run) integrated "
        text += "\(shipped.count) of \(tasks.count) tasks on \(RunMessages.integrationBranch(run)). Still to do:\n"
        for t in unfinished {
            let why = t.reason.map { ": \(Self.gist($0))" } ?? t.blockedBy.map { ": blocked by \($0)" } ?? ""
            text += "- \(t.task.id) (\(t.task.title)), \(t.state)\(why)\n"
        }
        if let nextPlanFile { text += "The plan for the rest is \(nextPlanFile); submit it with planbus submit.\n" }
        return text
    }

    /// A reason in one line: its first line, with the first finding when that line only counts
    /// them (`Rejected: 1 problem.` then `- scope: …`).
    static func gist(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first else { return text }
        if first.hasPrefix("Rejected:"), lines.count > 1, lines[1].hasPrefix("- ") {
            return first + " " + lines[1].dropFirst(2)
        }
        return first
    }

    static func format(_ d: Duration?) -> String {
        d == nil ? "unknown" : TaskTimes.format(d)
    }

    var markdown: String {
        var md = "# Handoff: \(plan.name), run \(run)\n\n"
        md += "Goal: \(plan.goal)\n\n"
        md += "Integration branch: `\(RunMessages.integrationBranch(run))` in `\(plan.repository)` "
        md += "(base branch `\(plan.baseBranch)` untouched).\n\n"
        if let halted { md += "**The run was halted: \(halted).**\n\n" }
        if let summary { md += "## Summary\n\n" + summary.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n" }
        md += "## Checks of the whole run\n\n"
        md += checks.isEmpty ? "The plan has no preflight or smoke gates.\n" : checks.map { "- \($0)\n" }.joined()
        for document in documents { md += "- stage document: `\(document)`\n" }
        md += "\n## What shipped\n\n"
        if shipped.isEmpty { md += "Nothing.\n\n" }
        for t in shipped {
            md += "### \(t.task.id): \(t.task.title)\n\n"
            md += "- change: commit `\(t.commit ?? "?")`\(t.diff.map { ", \($0)" } ?? "")\n"
            md += "- proof: "
            md += t.gates.isEmpty ? "no gates; scope, budget and secrets checked\n" : "\n"
            for g in t.gates { md += "  - gate `\(g.name)`: \(g.outcome) (log: `\(g.log)`)\n" }
            if let evidence = t.evidence { md += "- evidence: `\(evidence)`\n" }
            for note in t.notes { md += "- " + note.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }
            md += "\n"
        }
        md += "## What did not ship, and why\n\n"
        if unfinished.isEmpty { md += "Every task was integrated.\n\n" }
        for t in unfinished {
            md += "### \(t.task.id): \(t.task.title) (\(t.state))\n\n"
            if let blockedBy = t.blockedBy { md += "Blocked: it depends on \(blockedBy), which did not ship.\n\n" }
            if let reason = t.reason {
                md += "```\n" + reason.trimmingCharacters(in: .whitespacesAndNewlines) + "\n```\n\n"
            }
            if let evidence = t.evidence { md += "Evidence: `\(evidence)`\n\n" }
            for note in t.notes { md += "- " + note.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }
            if !t.notes.isEmpty { md += "\n" }
        }
        md += "## Attempts and time\n\n| task | state | attempts | elapsed |\n|---|---|---|---|\n"
        for t in tasks {
            md += "| \(t.task.id) | \(t.state) | \(t.attempts.map(String.init) ?? "-") | \(Self.format(t.elapsed)) |\n"
        }
        md += "\n## Usage and cost\n\n" + usageLines.map { "- \($0)\n" }.joined() + "\n"
        md += "## Next prompt\n\n```\n" + nextPrompt + "```\n\n"
        md += "## Next plan\n\n"
        if let nextPlan, let nextPlanFile {
            md += "Saved as `\(nextPlanFile)`; `planbus submit \(nextPlanFile)` accepts it as it is.\n\n"
            md += "```yaml\n" + nextPlan + "```\n"
        } else {
            md += "None: nothing is left to do.\n"
        }
        return md
    }

    /// One self-contained HTML file with the same content.
    var html: String {
        func e(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Handoff: \(e(plan.name)), run \(e(run))</title>
            <style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
            code,pre{font:13px ui-monospace,monospace;background:#f4f4f4}pre{padding:.75rem;overflow:auto}
            table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
            .ok{color:#0a6b2b}.bad{color:#a61b1b}</style></head><body>
            <h1>Handoff: \(e(plan.name)), run \(e(run))</h1>
            <p>Goal: \(e(plan.goal))</p>
            <p>Integration branch <code>\(e(RunMessages.integrationBranch(run)))</code> in <code>\(e(plan.repository))</code>
            (base branch <code>\(e(plan.baseBranch))</code> untouched).</p>

            """
        if let halted { h += "<p class=\"bad\"><strong>The run was halted: \(e(halted)).</strong></p>\n" }
        if let summary {
            h += "<h2>Summary</h2>\n<p>\(e(summary.trimmingCharacters(in: .whitespacesAndNewlines)))</p>\n"
        }
        h += "<h2>Checks of the whole run</h2>\n<ul>"
        if checks.isEmpty { h += "<li>The plan has no preflight or smoke gates.</li>" }
        for c in checks { h += "<li>\(e(c))</li>" }
        for d in documents { h += "<li>stage document: <a href=\"file://\(e(d))\">\(e(d))</a></li>" }
        h += "</ul>\n<h2>What shipped</h2>\n"
        if shipped.isEmpty { h += "<p>Nothing.</p>\n" }
        for t in shipped {
            h += "<h3 class=\"ok\">\(e(t.task.id)): \(e(t.task.title))</h3><ul>"
            h += "<li>change: commit <code>\(e(t.commit ?? "?"))</code>\(e(t.diff.map { ", \($0)" } ?? ""))</li>"
            if t.gates.isEmpty { h += "<li>proof: no gates; scope, budget and secrets checked</li>" }
            for g in t.gates {
                h += "<li>gate <code>\(e(g.name))</code>: \(e(g.outcome)) (<a href=\"file://\(e(g.log))\">log</a>)</li>"
            }
            if let ev = t.evidence { h += "<li>evidence: <code>\(e(ev))</code></li>" }
            for note in t.notes { h += "<li><pre>\(e(note))</pre></li>" }
            h += "</ul>\n"
        }
        h += "<h2>What did not ship, and why</h2>\n"
        if unfinished.isEmpty { h += "<p>Every task was integrated.</p>\n" }
        for t in unfinished {
            h += "<h3 class=\"bad\">\(e(t.task.id)): \(e(t.task.title)) (\(e(t.state)))</h3>"
            if let b = t.blockedBy { h += "<p>Blocked: it depends on \(e(b)), which did not ship.</p>" }
            if let r = t.reason { h += "<pre>\(e(r.trimmingCharacters(in: .whitespacesAndNewlines)))</pre>" }
            if let ev = t.evidence { h += "<p>Evidence: <code>\(e(ev))</code></p>" }
            for note in t.notes { h += "<pre>\(e(note))</pre>" }
            h += "\n"
        }
        h += "<h2>Attempts and time</h2>\n<table><tr><th>task</th><th>state</th><th>attempts</th><th>elapsed</th></tr>"
        for t in tasks {
            h += "<tr><td>\(e(t.task.id))</td><td>\(e(t.state))</td><td>\(t.attempts.map(String.init) ?? "-")</td>"
            h += "<td>\(e(Self.format(t.elapsed)))</td></tr>"
        }
        h += "</table>\n<h2>Usage and cost</h2>\n<ul>" + usageLines.map { "<li>\(e($0))</li>" }.joined() + "</ul>\n"
        h += "<h2>Next prompt</h2>\n<pre>\(e(nextPrompt))</pre>\n<h2>Next plan</h2>\n"
        if let nextPlan, let nextPlanFile {
            h += "<p>Saved as <code>\(e(nextPlanFile))</code>; <code>planbus submit</code> accepts it as it is.</p>"
            h += "<pre>\(e(nextPlan))</pre>\n"
        } else {
            h += "<p>None: nothing is left to do.</p>\n"
        }
        return h + "</body></html>\n"
    }
}
