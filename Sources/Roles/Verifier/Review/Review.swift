import Bus

/// One reviewer's review of a change: what the model answered, or why its answer was refused.
public struct Review: Sendable, Equatable {
    /// The agent that reviewed (``AgentProfile/label``).
    public var reviewer: String
    /// The review's transcript on the bus.
    public var log: String
    /// The answer, when it was read.
    public var answer: ReviewAnswer?
    /// Why the answer was not taken (not JSON, a missing field, a failed call), if it was not.
    public var refusal: String?

    public init(reviewer: String, log: String, answer: ReviewAnswer? = nil, refusal: String? = nil) {
        self.reviewer = reviewer
        self.log = log
        self.answer = answer
        self.refusal = refusal
    }

    /// True when the answer was taken and approves the change.
    public var approved: Bool { refusal == nil && answer?.approved == true }

    /// The issues: the reviewer's own, or the reason its answer was refused. A rejection that
    /// names no issue says so.
    public var issues: [String] {
        if let refusal { return ["the review by \(reviewer) was refused: \(refusal)"] }
        let issues = answer?.issues ?? []
        if !approved, issues.isEmpty { return ["\(reviewer) rejected the change without naming an issue"] }
        return issues
    }

    /// The tasks the reviewer proposes.
    public var followups: [ReviewAnswer.Followup] { refusal == nil ? answer?.followups ?? [] : [] }

    /// `approved`, `issues`, `reviewer`, `log`, and `refused` when the answer was refused.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "approved": .bool(approved), "issues": .array(issues.map(JSONValue.string)),
            "reviewer": .string(reviewer), "log": .string(log),
        ]
        if let refusal { o["refused"] = .string(refusal) }
        return .object(o)
    }

    /// Reads ``json`` back.
    public init?(json: JSONValue) {
        guard let reviewer = json["reviewer"]?.stringValue, let log = json["log"]?.stringValue else { return nil }
        let issues = json["issues"]?.arrayValue?.compactMap(\.stringValue) ?? []
        self.init(
            reviewer: reviewer, log: log,
            answer: ReviewAnswer(approved: json["approved"] == .bool(true), issues: issues),
            refusal: json["refused"]?.stringValue)
    }
}

/// Runs one review: the rendered prompt to an agent, asking for JSON, and reads the answer.
public struct ModelReviewer: Sendable {
    /// What one review came to.
    public enum Outcome: Sendable {
        /// The review, and the usage record of its call.
        case reviewed(Review, usage: JSONValue)
        /// Every agent that could review is rate-limited until then.
        case limited(until: Timestamp, reason: String)
    }

    public var caller: AgentCaller
    public var timeout: Duration

    public init(caller: AgentCaller, timeout: Duration) {
        self.caller = caller
        self.timeout = timeout
    }

    /// Calls the role's agent (or `profile`, a second reviewer) with `prompt` in `directory`, its
    /// transcript at `transcript`.
    /// - Throws: ``RoleError`` when the agent cannot be set up or a file cannot be written.
    public func review(prompt: String, directory: String, transcript: String, profile: AgentProfile? = nil)
        async throws(RoleError) -> Outcome
    {
        let call = try await caller.call(
            role: "verifier", prompt: prompt, directory: directory, transcript: transcript, timeout: timeout,
            wantsJSON: true, profile: profile)
        if let until = call.limitedUntil {
            return .limited(
                until: until, reason: "every reviewing agent is rate-limited: " + call.limits.joined(separator: "; "))
        }
        var review = Review(reviewer: call.profile?.label ?? profile?.label ?? "?", log: transcript)
        if call.result.outcome == .ok {
            do {
                review.answer = try ReviewAnswer(json: call.result.json)
            } catch {
                review.refusal = error.message
            }
        } else {
            review.refusal = "the agent's call ended with \(call.result.outcome.text)"
        }
        return .reviewed(review, usage: call.usageRecord)
    }
}
