import Bus
import Foundation

/// The judge: picks one candidate of a design competition, and settles a review on which two
/// reviewers disagree.
///
/// For a `judge` envelope (the planner's, once every candidate of an attempt is verified) it
/// scores each candidate (``CandidateScore``): the gates come from the verifier's verdicts, and the
/// size of each change (files, lines, test files) is measured again from git, base to commit,
/// not taken from anyone's report. When the role drives an agent and two or more candidates were
/// approved, the model reads every candidate (the `judge` template) and picks one
/// (``JudgeRubric``); an answer that does not check out is refused and the deterministic choice
/// stands, with the refusal among the reasons. It deletes the losing candidates' branches, and
/// answers the planner with a `judgment`: the `winner`, every candidate's `scores`, the
/// `reasons`, and the model's answer and `usage` when one was asked.
///
/// A `judge` envelope with `mode: review` comes from the verifier instead; see
/// ``settleReview(_:context:)``.
public struct JudgeRole: Role {
    public init() {}

    public var kinds: Set<String> { [RunMessages.judge] }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let request = claim.envelope
        if request.body["mode"]?.stringValue == "review" { return try await settleReview(claim, context: context) }
        guard let task = request.task, let repository = request.body["repository"]?.stringValue,
            let candidates = request.body["candidates"]?.arrayValue, !candidates.isEmpty
        else { return .dead("judge envelope \(request.id) needs a task, a repository and candidates") }
        let git = Git(directory: repository)
        var scores: [CandidateScore] = []
        var excerpts: [Int: (stat: String, diff: DiffExcerpt)] = [:]
        let reading = context.agents.isEnabled
        for verdict in candidates {
            let number = verdict["candidate"]?.intValue ?? 1
            let commit = verdict["commit"]?.stringValue
            let gates = verdict["gates"]?.arrayValue ?? []
            var score = CandidateScore(
                candidate: number, commit: commit, approved: verdict["approved"] == .bool(true),
                gatesPassed: gates.filter { $0["passed"] == .bool(true) }.count, gatesRun: gates.count, files: 0,
                lines: 0, testsChanged: 0,
                rejection: verdict["findings"]?.arrayValue?.first?["message"]?.stringValue)
            if let commit, let base = try? await git.run(["rev-parse", commit + "^1"]) {
                let diff = try await git.diff(from: base, to: commit)
                score.files = diff.files.count
                score.lines = diff.lines
                score.testsChanged = diff.paths.filter(CandidateScore.isTest).count
                if reading {
                    excerpts[number] = (
                        DiffExcerpt.stat(diff),
                        try await DiffExcerpt.read(
                            git: git, from: base, to: commit, limit: DiffExcerpt.limit / max(candidates.count, 1))
                    )
                }
            }
            scores.append(score)
        }
        let ranked = CandidateScore.ranked(scores)
        var winner = ranked.first.flatMap { $0.score == nil ? nil : $0 }
        let attempt = request.body["attempt"]?.intValue ?? request.attempt

        var model: ModelJudgment<JudgeRubric>?
        if reading, scores.filter({ $0.score != nil }).count > 1 {
            let folder = context.bus.layout.run(request.run) + "/\(task)/\(attempt)"
            let prompt = try Self.rubricPrompt(
                request, task: task, attempt: attempt, scores: ranked, excerpts: excerpts, verdicts: candidates,
                repository: repository, layout: context.bus.layout)
            switch try await ModelJudgment.ask(
                context.agents, prompt: prompt, directory: folder, transcript: folder + "/judge.log",
                timeout: Self.timeout(context),
                read: { json throws(RoleError) in
                    try JudgeRubric(json: json, candidates: scores)
                })
            {
            case .limited(let until, let reason): return .defer(until: until, reason: reason)
            case .answered(let answer):
                model = answer
                if let rubric = answer.rubric { winner = scores.first { $0.candidate == rubric.winner } }
            }
        }

        // The losers' branches go; their commits stay reachable from the verdicts' evidence only.
        for verdict in candidates {
            guard let branch = verdict["branch"]?.stringValue, verdict["candidate"]?.intValue != winner?.candidate
            else { continue }
            _ = try? await git.attempt(["branch", "-D", branch])
        }
        var reasons = (winner.map { "candidate \($0.candidate) wins" } ?? "no candidate can win: none was approved")
        if let model {
            if let rubric = model.rubric {
                reasons += " (chosen by \(model.agent)).\n" + rubric.reasons.map { "- " + $0 + "\n" }.joined()
            } else {
                reasons += " (the deterministic choice).\n- \(model.refusal ?? "model answer refused")\n"
            }
        } else {
            reasons += ".\n"
        }
        reasons += ranked.map { "- " + $0.line }.joined(separator: "\n")
        var body: [String: JSONValue] = [
            "attempt": .number(Double(attempt)),
            "winner": winner.map { .number(Double($0.candidate)) } ?? .null,
            "commit": winner?.commit.map(JSONValue.string) ?? .null,
            "scores": .array(
                ranked.map { score in
                    var o = score.json.objectValue ?? [:]
                    if let given = model?.rubric?.scores[score.candidate] { o["model_score"] = .number(given) }
                    return .object(o)
                }),
            "reasons": .string(reasons),
            "summary": .string(
                winner.map {
                    "candidate \($0.candidate) of \(task) wins"
                        + (model?.rubric != nil ? " (chosen by \(model!.agent))" : " with score \($0.score ?? 0)")
                } ?? "no candidate of \(task) can win"),
        ]
        if let model {
            body["usage"] = .array([model.usage])
            body["model"] = model.json(rubric: model.rubric?.json)
        }
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: request.id, "judgment-\(task)-\(attempt)"), run: request.run,
                task: task, kind: RunMessages.judgment, from: context.worker, to: "planner", causation: request.id,
                attempt: attempt, body: body)
        ])
    }

    /// How long the model may take: half the envelope's time limit, at most 20 minutes.
    static func timeout(_ context: RoleContext) -> Duration {
        let cap = Duration.seconds(1200)
        guard let limit = context.settings.envelopeTimeout else { return cap }
        return min(cap, limit / 2)
    }

    /// Renders the `judge` template over the candidates, best-scored first.
    static func rubricPrompt(
        _ request: Envelope, task: String, attempt: Int, scores: [CandidateScore],
        excerpts: [Int: (stat: String, diff: DiffExcerpt)], verdicts: [JSONValue], repository: String,
        layout: BusLayout
    ) throws(RoleError) -> String {
        let plan = try? RunMessages.plan(of: request.run, layout: layout)
        let blocks = scores.map { score in
            let verdict = verdicts.first { ($0["candidate"]?.intValue ?? 1) == score.candidate }
            let excerpt = excerpts[score.candidate]
            return """
                ### Candidate \(score.candidate) (\(score.score == nil ? "rejected by the verifier" : "approved"))
                Commit: \(score.commit ?? "none")
                Deterministic score: \(score.line)

                Files changed:
                \(excerpt?.stat ?? "(unknown)")

                Gates:
                \(DiffExcerpt.gates(verdict?["gates"]?.arrayValue ?? []))

                Diff: \(excerpt?.diff.note ?? "not available.")
                ```diff
                \(excerpt?.diff.text ?? "")
                ```
                """
        }
        return try PromptLibrary(repository: repository, intent: PromptLibrary.intent(run: request.run, layout: layout))
            .render(
                "judge",
                [
                    "run": request.run, "task": task, "attempt": String(attempt),
                    "title": request.body["title"]?.stringValue ?? plan?.task(task)?.title ?? task,
                    "prompt": plan?.task(task)?.prompt ?? "(the plan is not available)",
                    "approved": scores.filter { $0.score != nil }.map { String($0.candidate) }.sorted().joined(
                        separator: ", "),
                    "candidates": blocks.joined(separator: "\n\n"),
                ])
    }
}
