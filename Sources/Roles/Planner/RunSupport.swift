/// What a run can carry out today, checked before a plan is run, so that nothing a plan asks for
/// is silently skipped.
public enum RunSupport {
    /// The reasons `plan` cannot be run as written, one per unsupported feature it uses; empty
    /// when it can.
    ///
    /// A task without a `run` step is built by the builder's agent, so it can be run only when
    /// `agents` says the builder drives one (``AgentSettings/roleAgents``, `builder` other than
    /// `none`).
    /// - Parameter agents: the agent settings of the configuration (offline by default).
    public static func unsupported(_ plan: Plan, agents: AgentSettings = .offline) -> [String] {
        if builderAgent(agents) != nil { return [] }
        return plan.tasks.filter { $0.run == nil }.map { task in
            "task \(task.id) has no run step, and the builder drives no agent (roles: builder: agent: is none)"
        }
    }

    /// The agent the builder drives according to `agents`, or `nil` when it is offline.
    public static func builderAgent(_ agents: AgentSettings) -> String? {
        guard let agent = agents.roleAgents["builder"], !agent.isEmpty, agent != "none" else { return nil }
        return agent
    }
}
