import Bus
import Foundation

/// The judge's decision on a review on which two reviewers disagree.
extension JudgeRole {
    /// The model's decision: `{approved: Bool, reasons: [String]}`.
    struct ReviewDecision: Sendable, Equatable {
        var approved: Bool
        var reasons: [String]

        /// - Throws: ``RoleError`` `invalidRequest` naming what is missing or of the wrong type.
        init(json: JSONValue?) throws(RoleError) {
            guard let object = json?.objectValue else {
                throw RoleError(.invalidRequest, "the answer is not a JSON object")
            }
            guard case .bool(let approved) = object["approved"] else {
                throw RoleError(.invalidRequest, "\"approved\" is missing or not true/false")
            }
            guard let list = object["reasons"]?.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw RoleError(.invalidRequest, "\"reasons\" is missing or not an array of strings")
            }
            self.approved = approved
            self.reasons = list.compactMap(\.stringValue)
        }
    }

    /// `judge` with `mode: review` (from the verifier): decides between two reviews of one change.
    ///
    /// With an agent, the model reads the task, the diff and both reviews (the `judge-review`
    /// template, transcript `judge-review.log` in the attempt's folder) and answers
    /// `{approved, reasons}`. Offline, or when the answer is refused, the change is rejected: a
    /// reviewer's issues stand until someone settles them. The `judgment` (`mode: review`,
    /// `approved`, `reasons`, `decided_by` `model` or `rule`, `usage`) goes to the envelope's
    /// `reply_to` (the verifier), which finishes the verdict.
    func settleReview(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let request = claim.envelope
        let body = request.body
        guard let task = request.task, let reviews = body["reviews"]?.arrayValue, reviews.count > 1,
            let replyTo = body["reply_to"]?.stringValue
        else { return .dead("judge envelope \(request.id) (mode review) needs a task, two reviews and a reply_to") }
        let attempt = body["attempt"]?.intValue ?? request.attempt
        let candidate = body["candidate"]?.intValue ?? 1
        var approved = false
        var reasons: [String] = []
        var decidedBy = "rule"
        var answer: JSONValue = .null
        if context.agents.isEnabled {
            let folder =
                context.bus.layout.run(request.run) + "/\(task)/\(attempt)" + (candidate > 1 ? "/c\(candidate)" : "")
            let prompt = try PromptLibrary(
                repository: body["repository"]?.stringValue,
                intent: PromptLibrary.intent(run: request.run, layout: context.bus.layout)
            ).render(
                "judge-review",
                [
                    "run": request.run, "task": task, "attempt": String(attempt),
                    "title": body["title"]?.stringValue ?? task, "prompt": body["prompt"]?.stringValue ?? "",
                    "scope": (body["scope"]?.arrayValue ?? []).compactMap(\.stringValue).map { "- " + $0 }.joined(
                        separator: "\n"),
                    "gates": body["gates"]?.stringValue ?? "", "diff_stat": body["diff_stat"]?.stringValue ?? "",
                    "diff": body["diff_excerpt"]?.stringValue ?? "", "diff_note": body["diff_note"]?.stringValue ?? "",
                    "reviews": reviews.map(Self.reviewText).joined(separator: "\n\n"),
                ])
            switch try await ModelJudgment.ask(
                context.agents, prompt: prompt, directory: folder, transcript: folder + "/judge-review.log",
                timeout: Self.timeout(context), read: { json throws(RoleError) in try ReviewDecision(json: json) })
            {
            case .limited(let until, let reason): return .defer(until: until, reason: reason)
            case .answered(let model):
                answer = model.json(
                    rubric: model.rubric.map {
                        ["approved": .bool($0.approved), "reasons": .array($0.reasons.map(JSONValue.string))]
                    })
                if let decision = model.rubric {
                    approved = decision.approved
                    reasons = decision.reasons
                    decidedBy = "model"
                } else {
                    reasons = [(model.refusal ?? "model answer refused") + "; the rejecting reviewer's issues stand"]
                }
                var out = Self.reviewJudgment(
                    request, task: task, attempt: attempt, approved: approved, reasons: reasons, by: decidedBy,
                    to: replyTo, context: context)
                out.body["usage"] = .array([model.usage])
                out.body["model"] = answer
                return .ack([out])
            }
        }
        reasons = ["no model settles the disagreement (the judge is offline): the rejecting reviewer's issues stand"]
        return .ack([
            Self.reviewJudgment(
                request, task: task, attempt: attempt, approved: approved, reasons: reasons, by: decidedBy,
                to: replyTo, context: context)
        ])
    }

    static func reviewJudgment(
        _ request: Envelope, task: String, attempt: Int, approved: Bool, reasons: [String], by: String, to: String,
        context: RoleContext
    ) -> Envelope {
        let candidate = request.body["candidate"]?.intValue ?? 1
        return Envelope(
            id: RunMessages.derivedID(
                from: request.id, "review-judgment-\(task)-\(attempt)" + (candidate > 1 ? "-c\(candidate)" : "")),
            run: request.run, task: task, kind: RunMessages.judgment, from: context.worker, to: to,
            causation: request.id, attempt: attempt,
            body: [
                "mode": "review", "attempt": .number(Double(attempt)), "candidate": .number(Double(candidate)),
                "approved": .bool(approved), "reasons": .array(reasons.map(JSONValue.string)),
                "decided_by": .string(by),
                "summary": .string(
                    "the judge \(approved ? "approves" : "rejects") \(task) attempt \(attempt) after a split review"),
            ])
    }

    /// One review for the prompt: who, the decision, each issue.
    static func reviewText(_ review: JSONValue) -> String {
        let who = review["reviewer"]?.stringValue ?? "?"
        let verdict = review["approved"] == .bool(true) ? "approves" : "rejects"
        let issues = (review["issues"]?.arrayValue ?? []).compactMap(\.stringValue)
        return "### \(who) \(verdict) the change\n"
            + (issues.isEmpty ? "(no issues)" : issues.map { "- " + $0 }.joined(separator: "\n"))
    }
}
