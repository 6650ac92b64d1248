import Bus

/// The goal envelope that starts a run, built in one place for every way a plan is submitted
/// (`planbus submit`, the planner's backlog folder).
public enum RunSubmission {
    /// The goal of a run: a `goal` envelope to the planner carrying the plan's text and file.
    ///
    /// The plan text is authoritative: every role re-reads the plan from it, resolving a relative
    /// `repository:` against the folder of `planFile`, so `planFile` must be the path the plan was
    /// checked at.
    ///
    /// - Parameters:
    ///   - planFile: The absolute path the plan was loaded from.
    ///   - text: The plan file's text, as loaded.
    ///   - plan: The plan `text` loads as (its name goes into the summary).
    ///   - run: The run id.
    ///   - worker: Who sends the goal.
    ///   - id: The envelope id; a new one when `nil`. A sender that may send the same goal again
    ///     (after a crash) passes the same id, so the bus's duplicate detection keeps one.
    ///   - created: When the goal was made; now when `nil`.
    /// - Returns: The envelope, not yet published.
    public static func goal(
        planFile: String, text: String, plan: Plan, run: String, worker: WorkerID, id: String? = nil,
        created: Timestamp? = nil
    ) -> Envelope {
        Envelope(
            id: id ?? EnvelopeID.make(), run: run, kind: RunMessages.goal, from: worker, to: "planner",
            created: created ?? .now(),
            body: [
                "plan_file": .string(planFile), "plan_text": .string(text), "summary": .string("plan \(plan.name)"),
            ])
    }
}
