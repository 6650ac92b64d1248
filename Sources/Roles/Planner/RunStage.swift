/// Where a run is, as a whole: the stages of docs/PLAN.md section 7 that the planner drives.
public enum RunStage: String, Sendable, Equatable, CaseIterable {
    /// The preflight gates are being run by the verifier.
    case preflight
    /// High risk: the planner is writing `DISCOVERY.md`.
    case discovery
    /// Medium and high risk: the planner is writing `SPEC.md`.
    case spec
    /// Tasks are being built, verified, judged, approved and integrated.
    case build
    /// The smoke gates are being run on the integration branch.
    case smoke
    /// The run has finished.
    case done

    /// The stage after the preflight gates for a plan of `risk`.
    static func first(after risk: PlanRisk) -> RunStage {
        switch risk {
        case .low: return .build
        case .medium: return .spec
        case .high: return .discovery
        }
    }
}
