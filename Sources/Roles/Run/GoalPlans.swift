import Bus
import Synchronization

/// The plans of runs' goals, each parsed once per process.
///
/// Finding a run's goal means reading the planner's `done/` folders, which hold every envelope the
/// planner ever took; doing that for every envelope a role handles would cost more with each one.
/// A goal the planner has taken never changes, so its plan is kept here by bus and run. Only a
/// goal that carries a plan is kept: a run whose goal is not found (or carries none) is looked up
/// again next time.
enum GoalPlans {
    private static let plans = Mutex<[String: Plan]>([:])

    /// The plan of `run`'s goal on the bus at `layout`, parsed with `parse` the first time.
    static func plan(
        of run: String, layout: BusLayout, parse: () throws(RoleError) -> Plan
    ) throws(RoleError) -> Plan {
        let key = layout.root + "\u{0}" + run
        if let known = plans.withLock({ $0[key] }) { return known }
        let plan = try parse()
        plans.withLock { $0[key] = plan }
        return plan
    }
}
