import Bus

/// The review of one change by the verifier's agent and, when the settings name one, a second
/// reviewer: both approve, both reject, or they disagree and the judge decides.
public struct ReviewPanel: Sendable {
    /// What the reviews came to.
    public enum Decision: Sendable {
        /// The reviews agree (or there is one): the change is approved or not.
        case decided(approved: Bool, reviews: [Review], usage: [JSONValue])
        /// Two reviewers disagree: the judge decides.
        case split(reviews: [Review], usage: [JSONValue])
        /// Every agent that could review is rate-limited until then.
        case limited(until: Timestamp, reason: String)
    }

    public var reviewer: ModelReviewer
    /// The second reviewer, if any (``AgentSettings/reviewer``).
    public var second: AgentProfile?

    public init(reviewer: ModelReviewer, second: AgentProfile?) {
        self.reviewer = reviewer
        self.second = second
    }

    /// Runs the reviews of `prompt` in `directory`, their transcripts in `folder` (`review.log`,
    /// `review-2.log`).
    public func review(prompt: String, directory: String, folder: String) async throws(RoleError) -> Decision {
        var reviews: [Review] = []
        var usage: [JSONValue] = []
        let calls: [(AgentProfile?, String)] =
            [(nil, folder + "/review.log")] + (second.map { [($0, folder + "/review-2.log")] } ?? [])
        for (profile, transcript) in calls {
            switch try await reviewer.review(
                prompt: prompt, directory: directory, transcript: transcript, profile: profile)
            {
            case .limited(let until, let reason): return .limited(until: until, reason: reason)
            case .reviewed(let review, let record):
                reviews.append(review)
                usage.append(record)
            }
        }
        let approvals = reviews.filter(\.approved).count
        if approvals == reviews.count { return .decided(approved: true, reviews: reviews, usage: usage) }
        if approvals == 0 { return .decided(approved: false, reviews: reviews, usage: usage) }
        return .split(reviews: reviews, usage: usage)
    }

    /// The verdict's `review` object: `approved`, `issues` (every reviewer's), `reviewer` (the
    /// labels, joined by ` + `), `log` (the first review's), and `reviews` (each one's
    /// ``Review/json``) when there are two; with `judge` added by the caller when the judge decided.
    public static func json(approved: Bool, reviews: [Review]) -> JSONValue {
        var o: [String: JSONValue] = [
            "approved": .bool(approved),
            "issues": .array(reviews.flatMap(\.issues).map(JSONValue.string)),
            "reviewer": .string(reviews.map(\.reviewer).joined(separator: " + ")),
            "log": reviews.first.map { .string($0.log) } ?? .null,
        ]
        if reviews.count > 1 { o["reviews"] = .array(reviews.map(\.json)) }
        return .object(o)
    }

    /// The reviewers' proposed tasks, as the verdict's `followups` carry them.
    public static func followups(_ reviews: [Review]) -> JSONValue {
        .array(reviews.flatMap(\.followups).map(\.json))
    }

    /// The findings of rejecting reviews: each issue of each reviewer that did not approve.
    public static func findings(_ reviews: [Review]) -> [Finding] {
        reviews.filter { !$0.approved }.flatMap { review in
            review.issues.map { Finding(.review, "\(review.reviewer): \($0)", evidence: review.log) }
        }
    }
}
