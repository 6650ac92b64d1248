import Bus
import BusTesting
import Foundation
import Roles
import Testing

/// The judge's model rubric: the answer's checks, and a real `planbus role judge` process asking a
/// fake model about real candidates' commits.
@Suite("Judge rubric", .serialized)
struct JudgeRubricTests {
    static let candidates = [
        CandidateScore(
            candidate: 1, commit: "a", approved: true, gatesPassed: 1, gatesRun: 1, files: 1, lines: 2, testsChanged: 0),
        CandidateScore(
            candidate: 2, commit: "b", approved: true, gatesPassed: 1, gatesRun: 1, files: 1, lines: 9, testsChanged: 0),
        CandidateScore(
            candidate: 3, commit: "c", approved: false, gatesPassed: 0, gatesRun: 1, files: 1, lines: 1, testsChanged: 0
        ),
    ]

    func refusal(_ text: String) -> String? {
        let json = try? JSONValue.parse(text)
        do {
            _ = try JudgeRubric(json: json, candidates: Self.candidates)
            return nil
        } catch {
            return error.message
        }
    }

    @Test("an answer naming an approved winner and real candidates is taken")
    func takesAGoodAnswer() throws {
        let rubric = try JudgeRubric(
            json: try JSONValue.parse(#"{"winner": 2, "scores": {"1": 40, "2": 90.5}, "reasons": ["clearer"]}"#),
            candidates: Self.candidates)
        #expect(rubric == JudgeRubric(winner: 2, scores: [1: 40, 2: 90.5], reasons: ["clearer"]))
    }

    @Test("a winner the verifier rejected, a winner that does not exist, or scores of no candidate are refused")
    func refusesBadAnswers() {
        #expect(refusal(#"{"winner": 3, "scores": {}, "reasons": []}"#)?.contains("was not approved") == true)
        #expect(refusal(#"{"winner": 7, "scores": {}, "reasons": []}"#)?.contains("is not a candidate") == true)
        #expect(refusal(#"{"winner": 1, "scores": {"9": 1}, "reasons": []}"#)?.contains("\"9\"") == true)
        #expect(refusal(#"{"winner": 1, "scores": {"1": "high"}, "reasons": []}"#)?.contains("not a number") == true)
        #expect(refusal(#"{"winner": 1, "scores": {}}"#)?.contains("reasons") == true)
        #expect(refusal(#"["winner", 1]"#) == "the answer is not a JSON object")
        #expect(refusal(#"{"winner": 1, "scores": {}, "reasons": ["ok"]}"#) == nil)
    }

    /// Three candidates of task t1 (1: small, 2: larger, both approved; 3: rejected), judged by a
    /// judge whose model answers `answer`.
    func judge(answer: String) async throws -> (ReviewBench, Envelope) {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        try bench.start("judge", settings: ["primary": try bench.agent("judge", answer: answer)])
        var verdicts: [JSONValue] = []
        for (number, text) in [(1, "a\n"), (2, "a\nb\nc\nd\n"), (3, "x\n")] {
            let made = try await bench.commit(task: "t1", attempt: 1, candidate: number, files: [("a.txt", text)])
            verdicts.append([
                "candidate": .number(Double(number)), "commit": .string(made.commit), "branch": .string(made.branch),
                "approved": .bool(number != 3), "gates": [["name": "there", "passed": .bool(number != 3)]],
                "findings": number == 3 ? [["check": "gate", "message": "gate there failed"]] : [],
            ])
        }
        let worker = try WorkerID.current(role: "planner")
        let request = Envelope(
            run: bench.run, task: "t1", kind: RunMessages.judge, from: worker, to: "judge", attempt: 1,
            body: [
                "repository": .string(bench.repository), "title": "write a.txt", "candidates": .array(verdicts),
                "attempt": 1,
            ])
        try Publisher(bus: bench.bus.bus, worker: worker).publish(request)
        #expect(await eventually { !bench.envelopes(to: "planner", kind: RunMessages.judgment).isEmpty })
        return (bench, try #require(bench.envelopes(to: "planner", kind: RunMessages.judgment).first))
    }

    @Test("the model's pick of an approved candidate wins, with its reasons, scores and usage")
    func modelPicks() async throws {
        let (bench, judgment) = try await judge(
            answer: #"{"winner": 2, "scores": {"1": 60, "2": 85}, "reasons": ["candidate 2 covers every case"]}"#)
        #expect(judgment.body["winner"] == 2)
        let reasons = try #require(judgment.body["reasons"]?.stringValue)
        #expect(reasons.contains("candidate 2 covers every case"))
        #expect(judgment.body["usage"]?.arrayValue?.first?["role"] == "judge")
        #expect(judgment.body["model"]?["refused"] == nil)
        let scores = try #require(judgment.body["scores"]?.arrayValue)
        #expect(scores.first { $0["candidate"] == 2 }?["model_score"] == 85)
        // The model read every candidate's diff and deterministic score.
        let prompt = try #require(bench.prompt(of: "judge"))
        #expect(prompt.contains("### Candidate 3 (rejected by the verifier)"))
        #expect(prompt.contains("+d"))
        #expect(prompt.contains("can win: 1, 2"))
        #expect(FileManager.default.fileExists(atPath: bench.bus.bus.layout.run("r1") + "/t1/1/judge.log.prompt.md"))
        // The losers' branches are gone; the winner's stays.
        #expect(await bench.git.branchExists("planbus/r1/t1/1-c2"))
        #expect(!(await bench.git.branchExists("planbus/r1/t1/1")))
    }

    @Test("a model picking a rejected or unknown candidate is refused: the deterministic winner, and why")
    func refusedPick() async throws {
        for answer in [
            #"{"winner": 3, "scores": {"3": 99}, "reasons": ["smallest"]}"#,
            #"{"winner": 12, "scores": {}, "reasons": ["made up"]}"#,
        ] {
            let (_, judgment) = try await judge(answer: answer)
            // Candidate 1 has the better deterministic score (fewer lines).
            #expect(judgment.body["winner"] == 1)
            let reasons = try #require(judgment.body["reasons"]?.stringValue)
            #expect(reasons.contains("model answer refused: the winner"))
            #expect(judgment.body["model"]?["refused"]?.stringValue?.hasPrefix("model answer refused") == true)
            #expect(judgment.body["usage"]?.arrayValue?.count == 1)
        }
    }

    @Test("a rate-limited judge hands the judge envelope back")
    func rateLimited() async throws {
        let bench = try await ReviewBench(tasks: ReviewBench.task("t1", file: "a.txt"))
        let resets = Int(Date().timeIntervalSince1970) + 3600
        let model = try bench.agent(
            "judge", error: ["type": "rate_limit", "message": "usage limit", "resets_at": .number(Double(resets))])
        try bench.start("judge", settings: ["primary": model])
        var verdicts: [JSONValue] = []
        for number in [1, 2] {
            let made = try await bench.commit(
                task: "t1", attempt: 1, candidate: number, files: [("a.txt", "\(number)\n")])
            verdicts.append([
                "candidate": .number(Double(number)), "commit": .string(made.commit), "branch": .string(made.branch),
                "approved": true, "gates": [],
            ])
        }
        let worker = try WorkerID.current(role: "planner")
        let request = Envelope(
            run: bench.run, task: "t1", kind: RunMessages.judge, from: worker, to: "judge", attempt: 1,
            body: ["repository": .string(bench.repository), "candidates": .array(verdicts), "attempt": 1])
        try Publisher(bus: bench.bus.bus, worker: worker).publish(request)
        let retry = bench.bus.bus.layout.retry("judge")
        #expect(
            await eventually {
                ((try? FileManager.default.contentsOfDirectory(atPath: retry)) ?? []).contains {
                    $0.hasPrefix(request.id)
                }
            })
        #expect(bench.envelopes(to: "planner", kind: RunMessages.judgment).isEmpty)
        // No branch was deleted.
        #expect(await bench.git.branchExists("planbus/r1/t1/1"))
        #expect(await bench.git.branchExists("planbus/r1/t1/1-c2"))
    }
}
