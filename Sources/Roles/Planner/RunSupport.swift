/// What a run can carry out today, checked before a plan is run, so that nothing a plan asks for
/// is silently skipped.
public enum RunSupport {
    /// The reasons `plan` cannot be run as written, one per unsupported feature it uses; empty
    /// when it can.
    public static func unsupported(_ plan: Plan) -> [String] {
        var reasons: [String] = []
        if plan.risk != .low {
            reasons.append(
                "risk \(plan.risk.rawValue) needs the spec stage, which runs cannot carry out yet; use risk: low")
        }
        if !plan.preflight.isEmpty { reasons.append("preflight gates are not run by runs yet") }
        if !plan.smoke.isEmpty { reasons.append("smoke gates are not run by runs yet") }
        for task in plan.tasks {
            if task.candidates > 1 {
                reasons.append(
                    "task \(task.id): candidates: \(task.candidates) needs the judge, which runs cannot use yet")
            }
            if task.needsApproval {
                reasons.append("task \(task.id): needs_approval needs human approval, which runs cannot wait for yet")
            }
            if task.run == nil {
                reasons.append("task \(task.id) has no run step, and builders cannot drive an agent yet")
            }
        }
        return reasons
    }
}
