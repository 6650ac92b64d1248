/// How risky a plan's change is, which decides the stages the plan goes through.
///
/// See ``PlanRoute/stages(for:)`` for the stages of each risk.
public enum PlanRisk: String, Sendable, Equatable, Hashable, CaseIterable {
    /// Build, verify and integrate each task.
    case low
    /// Write a tech spec first, then build, verify and integrate each task.
    case medium
    /// A discovery step and a tech spec, then build (with design competitions), verify and integrate.
    case high
}
