import Bus

/// What a reviewing model answered: `{approved: Bool, issues: [String], followups: [{title,
/// prompt, scope?}]}`.
public struct ReviewAnswer: Sendable, Equatable {
    /// A task the reviewer proposes to add to the run.
    public struct Followup: Sendable, Equatable {
        public var title: String
        public var prompt: String
        /// Globs of the paths it may change, when the reviewer gave them.
        public var scope: [String]?

        public init(title: String, prompt: String, scope: [String]? = nil) {
            self.title = title
            self.prompt = prompt
            self.scope = scope
        }

        /// `title`, `prompt`, and `scope` when given.
        public var json: JSONValue {
            var o: [String: JSONValue] = ["title": .string(title), "prompt": .string(prompt)]
            if let scope { o["scope"] = .array(scope.map(JSONValue.string)) }
            return .object(o)
        }
    }

    public var approved: Bool
    public var issues: [String]
    public var followups: [Followup]

    public init(approved: Bool, issues: [String], followups: [Followup] = []) {
        self.approved = approved
        self.issues = issues
        self.followups = followups
    }

    /// Reads the model's JSON answer.
    /// - Throws: ``RoleError`` `invalidRequest` naming the first field that is missing or of the
    ///   wrong type.
    public init(json: JSONValue?) throws(RoleError) {
        guard let object = json?.objectValue else {
            throw RoleError(.invalidRequest, "the answer is not a JSON object")
        }
        guard case .bool(let approved) = object["approved"] else {
            throw RoleError(.invalidRequest, "\"approved\" is missing or not true/false")
        }
        guard let list = object["issues"]?.arrayValue else {
            throw RoleError(.invalidRequest, "\"issues\" is missing or not an array")
        }
        var issues: [String] = []
        for (index, issue) in list.enumerated() {
            guard let text = issue.stringValue else {
                throw RoleError(.invalidRequest, "issues[\(index)] is not a string")
            }
            issues.append(text)
        }
        var followups: [Followup] = []
        switch object["followups"] {
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                guard let title = item["title"]?.stringValue, !title.isEmpty,
                    let prompt = item["prompt"]?.stringValue, !prompt.isEmpty
                else {
                    throw RoleError(.invalidRequest, "followups[\(index)] needs a \"title\" and a \"prompt\" string")
                }
                var scope: [String]?
                if let given = item["scope"], given != .null {
                    guard let globs = given.arrayValue?.compactMap(\.stringValue),
                        globs.count == given.arrayValue?.count
                    else { throw RoleError(.invalidRequest, "followups[\(index)].scope is not an array of strings") }
                    scope = globs
                }
                followups.append(Followup(title: title, prompt: prompt, scope: scope))
            }
        default: throw RoleError(.invalidRequest, "\"followups\" is missing or not an array")
        }
        self.init(approved: approved, issues: issues, followups: followups)
    }
}
