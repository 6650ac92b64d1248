/// What a run can carry out today, checked before a plan is run, so that nothing a plan asks for
/// is silently skipped.
public enum RunSupport {
    /// The reasons `plan` cannot be run as written, one per unsupported feature it uses; empty
    /// when it can.
    public static func unsupported(_ plan: Plan) -> [String] {
        plan.tasks.filter { $0.run == nil }.map { task in
            "task \(task.id) has no run step, and builders cannot drive an agent yet"
        }
    }
}
