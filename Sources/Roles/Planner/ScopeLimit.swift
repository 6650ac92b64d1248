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

    /// The globs of `scope` that are not inside the limit (none when the run has no limit). A glob
    /// that is absolute or has a `..` segment names paths outside the repository, so it is never
    /// inside a limit.
    public func escaping(_ scope: [String]) -> [String] {
        guard let globs else { return [] }
        return scope.filter { glob in
            Self.leavesRepository(glob) || !globs.contains { Self.contains(Self.tidy($0), Self.tidy(glob)) }
        }
    }

    /// True for a glob that starts with `/` or has a `..` segment.
    static func leavesRepository(_ glob: String) -> Bool {
        glob.hasPrefix("/")
            || glob.split(separator: "/").contains { $0.unicodeScalars.elementsEqual("..".unicodeScalars) }
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
    ///
    /// Segments are compared as ``Glob`` matches paths, by Unicode scalars: `café` spelled with a
    /// combining accent is another folder than `café` spelled with `é`, though Swift's `==` calls
    /// the two strings equal.
    static func contains(_ outer: String, _ inner: String) -> Bool {
        if same(outer, inner) { return true }
        let o = outer.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let i = inner.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var failed = Set<Int>()
        return contains(o, 0, i, 0, failed: &failed)
    }

    /// Whether `outer` from segment `o` on contains `inner` from segment `i` on; `failed` remembers
    /// the positions known not to, so that many `**` stay fast.
    private static func contains(_ outer: [String], _ o: Int, _ inner: [String], _ i: Int, failed: inout Set<Int>)
        -> Bool
    {
        guard o < outer.count else { return i == inner.count }
        let key = o * (inner.count + 1) + i
        if failed.contains(key) { return false }
        let result: Bool
        if same(outer[o], "**") {
            // A trailing `**` matches one segment or more; elsewhere none or more.
            if o == outer.count - 1 {
                result = i < inner.count
            } else {
                result =
                    contains(outer, o + 1, inner, i, failed: &failed)
                    || (i < inner.count && contains(outer, o, inner, i + 1, failed: &failed))
            }
        } else if i < inner.count, !same(inner[i], "**") {
            result = segment(outer[o], contains: inner[i]) && contains(outer, o + 1, inner, i + 1, failed: &failed)
        } else {
            result = false
        }
        if !result { failed.insert(key) }
        return result
    }

    /// True when every segment `inner` matches is matched by `outer`.
    private static func segment(_ outer: String, contains inner: String) -> Bool {
        if same(outer, inner) || same(outer, "*") { return true }
        let special = "*?[\\".unicodeScalars
        let literal = !inner.unicodeScalars.contains { special.contains($0) }
        return literal && Glob(outer).matches(inner)
    }

    /// True when `a` and `b` are the same Unicode scalars (not merely canonically equivalent).
    private static func same(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.elementsEqual(b.unicodeScalars)
    }
}
