import Bus

/// What an agent call came to.
public struct AgentResult: Sendable, Equatable {
    /// How the call ended, classified.
    public enum Outcome: Sendable, Equatable {
        case ok
        /// The agent or API failed; the message says how.
        case error(String)
        /// A rate or usage limit; `until` is when it resets, when the agent said.
        case rateLimited(until: Timestamp?, message: String)
        /// Credentials missing, wrong or expired.
        case auth(String)
        /// The call ran past its time limit and was killed.
        case timeout
        /// The output could not be read as what was asked (malformed, empty, not JSON).
        case invalidOutput(String)
    }

    public var outcome: Outcome
    /// The final text.
    public var text: String
    /// The final output parsed as JSON, when the request asked for JSON and it parsed.
    public var json: JSONValue?
    public var usage: AgentUsage
    /// The vendor's session (or thread) id, to resume.
    public var session: String?

    public init(
        outcome: Outcome, text: String = "", json: JSONValue? = nil, usage: AgentUsage = AgentUsage(),
        session: String? = nil
    ) {
        self.outcome = outcome
        self.text = text
        self.json = json
        self.usage = usage
        self.session = session
    }
}
