import Bus
import Foundation

/// The verifier's model review: a builder whose agent failed, the review prompt, and a split
/// review sent to the judge and settled by its `judgment`.
extension VerifierRole {
    /// A rendered review prompt and the diff it shows.
    struct ReviewPrompt: Sendable {
        var text: String
        var excerpt: DiffExcerpt
        var stat: String
        var gates: String
    }

    /// The finding for a `built` envelope whose builder's agent failed (`agent_outcome` other than
    /// `ok`; the `agent` object says how), or `nil`.
    static func agentFailure(of built: Envelope) -> Finding? {
        guard let outcome = built.body["agent_outcome"]?.stringValue, outcome != "ok" else { return nil }
        let message = built.body["agent"]?["message"]?.stringValue ?? ""
        let log = built.body["log"]?.stringValue ?? "?"
        let detail = message.isEmpty ? outcome : message.hasPrefix(outcome) ? message : "\(outcome): \(message)"
        return Finding(.gate, "the builder's agent failed: \(detail) (log: \(log))")
    }

    /// How long one review may take: half the envelope's time limit, at most 20 minutes.
    static func reviewTimeout(_ context: RoleContext) -> Duration {
        let cap = Duration.seconds(1200)
        guard let limit = context.settings.envelopeTimeout else { return cap }
        return min(cap, limit / 2)
    }

    /// Renders the `reviewer` template for `commit`.
    static func reviewPrompt(
        task: PlanTask, run: String, attempt: Int, candidate: Int, plan: Plan, git: Git, base: String,
        commit: String, change: DiffSummary, gates: [GateResult], intent: String = "none"
    ) async throws(RoleError) -> ReviewPrompt {
        let excerpt = try await DiffExcerpt.read(git: git, from: base, to: commit)
        let stat = DiffExcerpt.stat(change)
        let gateText = DiffExcerpt.gates(gates.map(\.json))
        let text = try PromptLibrary(repository: plan.repository, intent: intent).render(
            "reviewer",
            [
                "run": run, "task": task.id, "title": task.title, "attempt": String(attempt),
                "candidate": String(candidate), "prompt": task.prompt,
                "scope": task.scope.map { "- " + $0 }.joined(separator: "\n"), "gates": gateText,
                "diff_stat": stat, "diff": excerpt.text, "diff_note": excerpt.note, "commit": commit, "base": base,
            ])
        return ReviewPrompt(text: text, excerpt: excerpt, stat: stat, gates: gateText)
    }

    /// The `judge` envelope (`mode: review`) for two reviews that disagree: the task, the diff,
    /// both reviews, and the drafted verdict the judgment will decide (`verdict`, with the
    /// reviews' `usage` and `followups`). The judge answers the verifier (`reply_to`).
    static func reviewJudge(
        _ built: Envelope, task: PlanTask, attempt: Int, candidate: Int, plan: Plan, prompt: ReviewPrompt,
        reviews: [Review], usage: [JSONValue], draft: [String: JSONValue], context: RoleContext
    ) -> Envelope {
        var verdict = draft
        verdict["usage"] = .array(usage)
        verdict["followups"] = ReviewPanel.followups(reviews)
        let suffix = "review-judge-\(task.id)-\(attempt)" + (candidate > 1 ? "-c\(candidate)" : "")
        return Envelope(
            id: RunMessages.derivedID(from: built.id, suffix), run: built.run, task: task.id,
            kind: RunMessages.judge, from: context.worker, to: "judge", causation: built.id, attempt: attempt,
            body: [
                "mode": "review", "reply_to": "verifier", "repository": .string(plan.repository),
                "title": .string(task.title), "prompt": .string(task.prompt),
                "scope": .array(task.scope.map(JSONValue.string)), "attempt": .number(Double(attempt)),
                "candidate": .number(Double(candidate)), "commit": built.body["commit"] ?? .null,
                "diff": draft["diff"] ?? .null, "diff_stat": .string(prompt.stat),
                // The diff's removed and context lines were never scanned for credentials.
                "diff_excerpt": .string(context.agents.redactor.redact(prompt.excerpt.text)),
                "diff_note": .string(prompt.excerpt.note),
                "gates": .string(prompt.gates), "reviews": .array(reviews.map(\.json)), "verdict": .object(verdict),
                "summary": .string(
                    "the reviewers of \(task.id) attempt \(attempt) disagree: "
                        + reviews.map { "\($0.reviewer) \($0.approved ? "approves" : "rejects")" }.joined(
                            separator: ", ")),
            ])
    }

    /// `judgment` on a split review (`mode: review`): finishes the verdict the verifier drafted
    /// (read back from the judge's `done/`, not from the judgment), integrating when the judge
    /// approves and nothing else is pending.
    func settleReview(_ claim: Claim, plan: Plan, context: RoleContext) async throws -> Disposition {
        let judgment = claim.envelope
        guard judgment.body["mode"]?.stringValue == "review" else {
            return .dead("judgment \(judgment.id) does not settle a review (mode review); the planner takes the others")
        }
        guard let source = judgment.causation, let request = Self.sent(source, to: "judge", layout: context.bus.layout)
        else { return .dead("judgment \(judgment.id): the judge envelope it answers is not in the judge's done/") }
        guard let taskID = request.task, let task = plan.task(taskID), var body = request.body["verdict"]?.objectValue,
            let commit = body["commit"]?.stringValue
        else { return .dead("judge envelope \(request.id) carries no verdict of a task of the run") }
        let attempt = body["attempt"]?.intValue ?? request.attempt
        let candidate = body["candidate"]?.intValue ?? 1
        let pending: String? = task.candidates > 1 ? "judge" : task.needsApproval ? "approval" : nil
        let reviews = (request.body["reviews"]?.arrayValue ?? []).compactMap(Review.init(json:))
        let approved = judgment.body["approved"] == .bool(true)
        let reasons = judgment.body["reasons"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var findings: [Finding] = []
        if !approved {
            findings =
                ReviewPanel.findings(reviews)
                + (reasons.isEmpty ? ["the judge rejected the change"] : reasons).map {
                    Finding(.review, "judge: \($0)")
                }
        }
        var integrated: String?
        if approved, pending == nil {
            switch try await Self.integrate(
                commit, task: task, attempt: attempt, run: judgment.run, git: Git(directory: plan.repository),
                again: claim.epoch > 1)
            {
            case .merged(let merge): integrated = merge
            case .conflict(let paths, let output): findings.append(Self.conflict(paths, output, run: judgment.run))
            }
        }
        if !findings.isEmpty {
            body["findings"] = .array(findings.map(\.json))
            body["feedback"] = .string(Verification(gates: [], findings: findings).feedback)
        }
        // The judge's call is counted in its judgment; the planner sees it here.
        body["relayed_usage"] = .array(
            (body["relayed_usage"]?.arrayValue ?? []) + (judgment.body["usage"]?.arrayValue ?? []))
        var review = ReviewPanel.json(approved: approved, reviews: reviews).objectValue ?? [:]
        review["judge"] = [
            "approved": .bool(approved), "reasons": .array(reasons.map(JSONValue.string)),
            "judgment": .string(judgment.id), "decided_by": judgment.body["decided_by"] ?? .null,
        ]
        body["review"] = .object(review)
        Self.finish(
            &body, approved: findings.isEmpty, integrated: integrated, pending: pending,
            who: "attempt \(attempt) of \(taskID)" + (candidate > 1 ? " (candidate \(candidate))" : ""),
            first: findings.first)
        let suffix = "verdict-\(taskID)-\(attempt)" + (candidate > 1 ? "-c\(candidate)" : "")
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: judgment.id, suffix), run: judgment.run, task: taskID,
                kind: RunMessages.verdict, from: context.worker, to: "planner", causation: judgment.id,
                attempt: attempt, body: body)
        ])
    }

    /// The envelope `id` as `role` acked it, from `q/<role>/done/`.
    static func sent(_ id: String, to role: String, layout: BusLayout) -> Envelope? {
        let done = layout.done(role)
        let days = [QueueNames.day(of: id)] + ((try? FileManager.default.contentsOfDirectory(atPath: done)) ?? [])
        for day in days {
            let folder = done + "/" + day
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            where name.hasPrefix(id + ".e") {
                guard let data = FileManager.default.contents(atPath: folder + "/" + name),
                    let envelope = try? Envelope(decoding: Array(data)), envelope.id == id
                else { continue }
                return envelope
            }
        }
        return nil
    }
}
