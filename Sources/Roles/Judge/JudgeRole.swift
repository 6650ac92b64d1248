import Bus
import Foundation

/// The judge: picks one candidate of a design competition.
///
/// For a `judge` envelope (the planner's, once every candidate of an attempt is verified) it
/// scores each candidate (``CandidateScore``): the gates come from the verifier's verdicts, and the
/// size of each change (files, lines, test files) is measured again from git, base to commit,
/// not taken from anyone's report. It deletes the losing candidates' branches, and answers the
/// planner with a `judgment`: the `winner`, every candidate's `scores`, and the `reasons`.
public struct JudgeRole: Role {
    public init() {}

    public var kinds: Set<String> { [RunMessages.judge] }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let request = claim.envelope
        guard let task = request.task, let repository = request.body["repository"]?.stringValue,
            let candidates = request.body["candidates"]?.arrayValue, !candidates.isEmpty
        else { return .dead("judge envelope \(request.id) needs a task, a repository and candidates") }
        let git = Git(directory: repository)
        var scores: [CandidateScore] = []
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
            }
            scores.append(score)
        }
        let ranked = CandidateScore.ranked(scores)
        let winner = ranked.first.flatMap { $0.score == nil ? nil : $0 }
        // The losers' branches go; their commits stay reachable from the verdicts' evidence only.
        for verdict in candidates {
            guard let branch = verdict["branch"]?.stringValue, verdict["candidate"]?.intValue != winner?.candidate
            else { continue }
            _ = try? await git.attempt(["branch", "-D", branch])
        }
        let reasons =
            (winner.map { "candidate \($0.candidate) wins." } ?? "no candidate can win: none was approved.") + "\n"
            + ranked.map { "- " + $0.line }.joined(separator: "\n")
        let attempt = request.body["attempt"]?.intValue ?? request.attempt
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: request.id, "judgment-\(task)-\(attempt)"), run: request.run,
                task: task, kind: RunMessages.judgment, from: context.worker, to: "planner", causation: request.id,
                attempt: attempt,
                body: [
                    "attempt": .number(Double(attempt)),
                    "winner": winner.map { .number(Double($0.candidate)) } ?? .null,
                    "commit": winner?.commit.map(JSONValue.string) ?? .null,
                    "scores": .array(ranked.map(\.json)), "reasons": .string(reasons),
                    "summary": .string(
                        winner.map { "candidate \($0.candidate) of \(task) wins with score \($0.score ?? 0)" }
                            ?? "no candidate of \(task) can win"),
                ])
        ])
    }
}
