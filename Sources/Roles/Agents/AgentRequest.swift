/// What a role asks of an agent: one call, with everything the adapter needs to run it.
public struct AgentRequest: Sendable {
    /// The role making the call (`builder`, `verifier`, …), for prompts and logs.
    public var role: String
    /// The rendered prompt.
    public var prompt: String
    /// The folder the agent works in (a builder's work tree).
    public var directory: String
    /// The path globs the agent may change, relative to ``directory``.
    public var scope: [String]
    /// The model, or `nil` for the agent's default.
    public var model: String?
    /// The longest the call may take; then the agent's whole process group is killed.
    public var timeout: Duration
    /// A vendor session to resume, if the agent supports it.
    public var resumeSession: String?
    /// True when the caller wants structured JSON as the final output.
    public var wantsJSON: Bool
    /// The transcript file: the agent's output is written there as it arrives (`planbus tail`).
    public var transcript: String
    /// The environment of the agent's process (for a CLI), before the adapter's own changes.
    public var environment: [String: String]

    public init(
        role: String, prompt: String, directory: String, scope: [String] = [], model: String? = nil,
        timeout: Duration = .seconds(1800), resumeSession: String? = nil, wantsJSON: Bool = false,
        transcript: String, environment: [String: String] = [:]
    ) {
        self.role = role
        self.prompt = prompt
        self.directory = directory
        self.scope = scope
        self.model = model
        self.timeout = timeout
        self.resumeSession = resumeSession
        self.wantsJSON = wantsJSON
        self.transcript = transcript
        self.environment = environment
    }
}
