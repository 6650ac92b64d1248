import Bus
import Foundation

/// The docs role's model: a sentence or two for each changelog entry, and the summary at the top
/// of the handoff, written over the deterministic facts (which stay as they are).
///
/// Each call runs in an empty folder of the run (`runs/<run>/docs-work`), so a CLI agent has no
/// repository to change; its transcript is `runs/<run>/<task>/changelog.log` or
/// `runs/<run>/handoff.log`, with the rendered prompt beside it.
struct DocsProse {
    let context: RoleContext

    /// What a call gave: the prose (`nil` when the agent failed), its usage record, and the
    /// reset time when every agent of the role is limited.
    struct Written {
        var prose: String?
        var usage: JSONValue?
        var limitedUntil: Timestamp?
        var failure: String?
    }

    /// Asks the model for `template` with `values`.
    func write(_ template: String, _ values: [String: String], run: String, transcript: String, repository: String?)
        async throws -> Written
    {
        let work = context.bus.layout.run(run) + "/docs-work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let prompt = try PromptLibrary(
            repository: repository, intent: PromptLibrary.intent(run: run, layout: context.bus.layout)
        ).render(template, values)
        let call = try await context.agents.call(
            role: context.settings.role, prompt: prompt, directory: work, transcript: transcript,
            timeout: context.settings.envelopeTimeout ?? .seconds(600))
        if let until = call.limitedUntil { return Written(limitedUntil: until) }
        guard call.result.outcome == .ok else {
            return Written(usage: call.usageRecord, failure: call.result.outcome.text)
        }
        let text = call.result.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return Written(usage: call.usageRecord, failure: "the agent answered nothing") }
        return Written(prose: text, usage: call.usageRecord)
    }

    /// The prose of a changelog entry of `task`'s attempt that was integrated as `commit`.
    func changelog(
        run: String, task: String, title: String, attempt: Int, commit: String, repository: String
    ) async throws -> Written {
        let layout = context.bus.layout
        let prompt = (try? RunMessages.plan(of: run, layout: layout))?.task(task)?.prompt ?? "(not recorded)"
        let git = Git(directory: repository)
        try Git.revision(commit)
        let stat = (try? await git.run(["show", "--stat", "--format=%s%n%n%b", commit])) ?? ""
        // The merged commit (the merge's second parent) names its candidate in a trailer when it
        // is not the first; that candidate's step report is in its own folder.
        let trailer = try? await git.run([
            "log", "-1", "--format=%(trailers:key=Planbus-Candidate,valueonly)", commit + "^2",
        ])
        let candidate = trailer.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 1
        let report =
            layout.run(run) + "/\(task)/\(attempt)" + (candidate > 1 ? "/c\(candidate)" : "") + "/step-report.md"
        let stepReport = (try? String(contentsOfFile: report, encoding: .utf8)) ?? "(none: the step ran offline)"
        return try await write(
            "changelog",
            [
                "task": task, "title": title, "prompt": prompt, "diff": String(stat.prefix(6_000)),
                "step_report": String(stepReport.prefix(6_000)),
            ], run: run, transcript: layout.run(run) + "/\(task)/changelog.log", repository: repository)
    }
}
