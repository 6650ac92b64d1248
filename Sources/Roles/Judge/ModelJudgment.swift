import Bus
import Foundation

/// One call of the judge's model, and what came of it: the checked answer, or why it was refused.
struct ModelJudgment<Answer: Sendable>: Sendable {
    /// What asking came to.
    enum Outcome: Sendable {
        case answered(ModelJudgment)
        /// Every agent the judge may use is rate-limited until then.
        case limited(until: Timestamp, reason: String)
    }

    /// The agent that answered (``AgentProfile/label``).
    var agent: String
    /// The transcript on the bus.
    var log: String
    /// The answer, when it checked out.
    var rubric: Answer?
    /// `model answer refused: …` when it did not.
    var refusal: String?
    /// The call's usage record.
    var usage: JSONValue

    /// Calls the agent with `prompt`, asking for JSON, and reads the answer with `read`.
    static func ask(
        _ caller: AgentCaller, prompt: String, directory: String, transcript: String, timeout: Duration,
        read: (JSONValue?) throws(RoleError) -> Answer
    ) async throws(RoleError) -> Outcome {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let call = try await caller.call(
            role: "judge", prompt: prompt, directory: directory, transcript: transcript, timeout: timeout,
            wantsJSON: true)
        if let until = call.limitedUntil {
            return .limited(
                until: until, reason: "every judging agent is rate-limited: " + call.limits.joined(separator: "; "))
        }
        var judgment = ModelJudgment(
            agent: call.profile?.label ?? "?", log: transcript, rubric: nil, refusal: nil, usage: call.usageRecord)
        if call.result.outcome == .ok {
            do {
                judgment.rubric = try read(call.result.json)
            } catch {
                judgment.refusal = "model answer refused: \(error.message)"
            }
        } else {
            judgment.refusal = "model answer refused: the call ended with \(call.result.outcome.text)"
        }
        return .answered(judgment)
    }

    /// `agent`, `log`, `answer` (the checked answer's JSON, or null), and `refused` when it was.
    func json(rubric: JSONValue?) -> JSONValue {
        var o: [String: JSONValue] = [
            "agent": .string(agent), "log": .string(log), "answer": rubric ?? .null,
        ]
        if let refusal { o["refused"] = .string(refusal) }
        return .object(o)
    }
}
