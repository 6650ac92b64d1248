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
        default: return ServingRole(name: product)
        }
    }
}

/// A product role serving only the kinds every role shares, until its own kinds are added.
struct ServingRole: Role {
    let name: RoleName
    var kinds: Set<String> { [] }

    func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        .dead("role \(name.rawValue) does not handle kind \"\(claim.envelope.kind)\"")
    }
}
