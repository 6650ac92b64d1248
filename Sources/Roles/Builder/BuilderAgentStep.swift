import Bus
import Foundation

/// One attempt built by the builder's agent instead of a shell step.
///
/// It renders the `builder` prompt (``PromptLibrary``) from the `build` envelope and the run's
/// plan (the goal and the gates, from the run's `goal` taken by the planner) and `SPEC.md`
/// (invariants), calls the agent in the attempt's work tree with the task's time limit (its output
/// streamed into the attempt's `builder.log`, the prompt saved beside it as
/// `builder.log.prompt.md`), records the call's session in ``BuilderSessions``, and saves the
/// agent's final text, its step report, as `step-report.md` in the attempt's folder.
///
/// When the envelope was taken over from a holder that died during its call (an earlier epoch
/// wrote to `builder.log`, ``AgentSessionProbe``), the call resumes that holder's session when the
/// agent can (``AgentCatalog/resumes(_:)``), else starts afresh with the end of the earlier
/// transcript in the prompt. `builder.log` says which.
struct BuilderAgentStep {
    let request: BuildRequest
    let claim: Claim
    let context: RoleContext
    /// The attempt's work tree, where the agent works.
    let tree: String
    /// The attempt's folder.
    let folder: String
    /// The transcript: `<folder>/builder.log`.
    let log: String

    /// What the call came to.
    struct Outcome {
        var call: AgentCall
        /// `<folder>/step-report.md`, when the agent gave a final text.
        var stepReport: String?
    }

    /// How many lines of an interrupted call's transcript a fresh call is shown.
    static let previousLines = 40

    func run() async throws -> Outcome {
        let layout = context.bus.layout
        var probe: AgentSessionProbe?
        if claim.epoch > 1, let data = FileManager.default.contents(atPath: log) {
            probe = AgentSessionProbe(
                transcript: String(decoding: data, as: UTF8.self), envelope: claim.envelope.id, epoch: claim.epoch)
        }
        var ended: String?
        if let earlier = probe, earlier.ended {
            // That call ended (its holder died before acking, or handed the envelope back): there
            // is no interrupted call to carry on.
            ended = "# the call of epoch \(earlier.epoch) had ended before this holder took over: starting afresh"
            probe = nil
        }
        let primary = context.settings.agents.primary?.agent ?? "none"
        let resume = probe?.session.flatMap { AgentCatalog.resumes(primary) ? $0 : nil }
        let plan = try? RunMessages.plan(of: request.run, layout: layout)
        let values = promptValues(plan: plan, probe: probe, resume: resume, layout: layout)
        let prompt = try PromptLibrary(
            repository: request.repository, intent: PromptLibrary.intent(run: request.run, layout: layout)
        ).render("builder", values)

        append(
            AgentSessionProbe.header(
                time: .now(), attempt: request.attempt, task: request.task, worker: context.worker.description,
                envelope: claim.envelope.id, epoch: claim.epoch))
        if let ended { append(ended) }
        if let probe {
            if let resume {
                append("# the call of epoch \(probe.epoch) was interrupted: resuming its session \(resume)")
            } else {
                let why =
                    probe.session == nil
                    ? "its transcript names no session" : "agent \(primary) cannot resume a session"
                append(
                    "# the call of epoch \(probe.epoch) was interrupted and \(why): starting afresh with its last "
                        + "\(Self.previousLines) lines in the prompt")
            }
        }
        let call = try await context.agents.call(
            role: "builder", prompt: prompt, directory: tree, transcript: log, scope: request.scope,
            timeout: request.timeout, resumeSession: resume)
        append(AgentSessionProbe.ended(time: .now(), outcome: call.result.outcome.text))
        context.heartbeat.progressed()

        if let profile = call.profile {
            try BuilderSessions(layout: layout, run: request.run, task: request.task).append(
                BuilderSessions.entry(
                    attempt: request.attempt, candidate: request.candidate, epoch: claim.epoch, agent: profile.agent,
                    model: profile.model, session: call.result.session, outcome: call.result.outcome.name))
        }
        var report: String?
        let text = call.result.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if call.limitedUntil == nil, !text.isEmpty {
            let path = folder + "/step-report.md"
            do {
                try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw RoleError(.io, "cannot write \(path): \(error.localizedDescription)")
            }
            report = path
        }
        return Outcome(call: call, stepReport: report)
    }

    /// The values of the `builder` template's placeholders.
    func promptValues(plan: Plan?, probe: AgentSessionProbe?, resume: String?, layout: BusLayout) -> [String: String] {
        let notGiven = "(not given)"
        let task = plan?.task(request.task)
        let scope = request.scope.isEmpty ? (task?.scope ?? []) : request.scope
        var invariants = ["- Paths outside the scope must not change."]
        if let spec = Self.invariants(ofSpec: layout.run(request.run) + "/SPEC.md") { invariants.append(spec) }
        var gates = notGiven
        if let plan, let task {
            let list = plan.effectiveGates(for: task)
            gates =
                list.isEmpty
                ? "none: the verifier checks the scope, the budget and added credentials only"
                : list.map { "- \($0.name): `\(PlanText.shellLine($0.command.arguments))`" }.joined(separator: "\n")
        }
        let feedback = request.feedback?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let answers = request.answers.map { "Q: \($0.question)\nA: \($0.answer)" }.joined(separator: "\n\n")
        return [
            "run": request.run, "task": request.task, "title": request.title, "attempt": "\(request.attempt)",
            "goal": plan?.goal ?? notGiven, "prompt": request.prompt ?? task?.prompt ?? notGiven,
            "scope": scope.isEmpty ? notGiven : scope.joined(separator: "\n"),
            "invariants": invariants.joined(separator: "\n"), "gates": gates,
            "feedback": request.attempt == 1 || feedback.isEmpty ? "none" : feedback,
            "answers": answers.isEmpty ? "none" : answers,
            "previous": previous(probe, resume: resume),
        ]
    }

    /// The `previous` placeholder: `none`, or what became of an interrupted call.
    func previous(_ probe: AgentSessionProbe?, resume: String?) -> String {
        guard let probe else { return "none" }
        let heading = "### Previous attempt was interrupted\n"
        let reset =
            "Its work tree is gone: this one was made again from the base commit, so changes made before the "
            + "interruption are not here."
        if resume != nil {
            return heading + "This call resumes that session. " + reset
        }
        return heading + reset + " The last \(Self.previousLines) lines of its transcript:\n\n```\n"
            + probe.tail(Self.previousLines) + "\n```"
    }

    /// The invariants of a tech spec: its section whose heading names invariants, else its
    /// paragraph that starts with "Invariants".
    static func invariants(ofSpec path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init)
        if let start = lines.firstIndex(where: { $0.hasPrefix("#") && $0.lowercased().contains("invariant") }) {
            let body = lines[(start + 1)...].prefix { !$0.hasPrefix("#") }
            let text = body.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { return text }
        }
        guard let start = lines.firstIndex(where: { $0.lowercased().hasPrefix("invariants") }) else { return nil }
        return lines[start...].prefix { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.joined(separator: "\n")
    }

    private func append(_ line: String) {
        TranscriptPump.append(line + "\n", to: log)
    }
}
