import Bus

/// The built-in handler of each product role, looked up by name for `planbus role NAME`.
public enum ProductRoles {
    /// The role implementation for `name`, or `nil` when it is not a product role.
    public static func role(named name: String) -> (any Role)? {
        guard let product = RoleName(rawValue: name) else { return nil }
        switch product {
        case .builder: return BuilderRole()
        case .planner: return PlannerRole()
        case .verifier: return VerifierRole()
        case .docs: return DocsRole()
        case .judge: return JudgeRole()
        }
    }
}
