import Bus

/// The paths a model may give a task of a run: a follow-up task a reviewer or the judge proposes,
/// or a task the planner's model drafts for a free-text goal. People set scopes; a model may
/// narrow them, never widen them, unless the run was submitted with `--allow-model-scope`.
///
/// The limit comes from the goal: its `scope` (`planbus submit --scope GLOB`), else the union of
/// the plan's own tasks' scopes; `allow_model_scope: true` lifts it. A glob is inside the limit
/// when every path it can match is matched by a glob of the limit; the test is conservative, so
/// a glob it cannot prove inside counts as outside.
public struct ScopeLimit: Sendable, Equatable {
    /// The globs of the limit, or `nil` when the run has none.
    public var globs: [String]?
    /// Where the limit comes from, for messages (`the plan's task scopes`, `--scope`).
    public var source: String

    /// No limit.
    public static let none = ScopeLimit(globs: nil, source: "--allow-model-scope")

    public init(globs: [String]?, source: String) {
        self.globs = globs.map { $0.map(Self.tidy) }
        self.source = source
    }

    /// The limit a goal sets for the run of `plan`: none with `allow_model_scope`, the goal's
    /// `scope` when it has one, else the union of the plan's tasks' scopes.
    public static func of(goal body: [String: JSONValue], plan: Plan) -> ScopeLimit {
        if body["allow_model_scope"] == .bool(true) { return .none }
        if let given = requested(in: body) { return ScopeLimit(globs: given, source: "--scope") }
        var union: [String] = []
        for glob in plan.tasks.flatMap(\.scope) where !union.contains(glob) { union.append(glob) }
        return ScopeLimit(globs: union, source: "the plan's task scopes")
    }

    /// The `scope` a goal's body asks for, when it has one.
    static func requested(in body: [String: JSONValue]) -> [String]? {
        guard let list = body["scope"]?.arrayValue?.compactMap(\.stringValue), !list.isEmpty else { return nil }
        return list
    }

    /// The globs of `scope` that are not inside the limit (none when the run has no limit).
    public func escaping(_ scope: [String]) -> [String] {
        guard let globs else { return [] }
        return scope.filter { glob in !globs.contains { Self.contains(Self.tidy($0), Self.tidy(glob)) } }
    }

    /// The limit, for messages: its globs and where they come from.
    public var text: String {
        guard let globs else { return "no limit" }
        return globs.joined(separator: ", ") + " (\(source))"
    }

    /// `glob` as the plan reader tidies it: `./` and empty segments dropped, a trailing `/` read
    /// as `/**`, and `.` alone as `**`.
    static func tidy(_ glob: String) -> String {
        var parts = glob.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }.map(String.init)
        if glob.hasSuffix("/"), !parts.isEmpty { parts.append("**") }
        return parts.isEmpty ? "**" : parts.joined(separator: "/")
    }

    /// True when every path `inner` can match is matched by `outer` (conservatively: false when
    /// it cannot tell).
    static func contains(_ outer: String, _ inner: String) -> Bool {
        if outer == inner { return true }
        let o = outer.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let i = inner.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        return contains(o[...], i[...])
    }

    private static func contains(_ outer: ArraySlice<String>, _ inner: ArraySlice<String>) -> Bool {
        guard let first = outer.first else { return inner.isEmpty }
        if first == "**" {
            // A trailing `**` matches one segment or more; elsewhere none or more.
            if outer.count == 1 { return !inner.isEmpty }
            return contains(outer.dropFirst(), inner) || (!inner.isEmpty && contains(outer, inner.dropFirst()))
        }
        guard let head = inner.first, head != "**" else { return false }
        return segment(first, contains: head) && contains(outer.dropFirst(), inner.dropFirst())
    }

    /// True when every segment `inner` matches is matched by `outer`.
    private static func segment(_ outer: String, contains inner: String) -> Bool {
        if outer == inner || outer == "*" { return true }
        let literal = !inner.contains { "*?[\\".contains($0) }
        return literal && Glob(outer).matches(inner)
    }
}
