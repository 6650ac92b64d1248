import Bus

/// One reason the verifier rejects a change: a failed gate, a path outside the task's scope, a
/// change over budget, a credential in the diff or a reviewer's issue.
///
/// The ``message`` is meant for people, and for the builder's next attempt: it names the gate,
/// path, limit or pattern and where it was found.
public struct Finding: Sendable, Equatable, Hashable {
    /// The check that found the problem.
    public enum Check: String, Sendable, Equatable, Hashable, CaseIterable {
        /// A gate failed: it could not start, timed out, exited non-zero or changed protected paths.
        case gate
        /// A changed path is outside the task's scope.
        case scope
        /// The change touches more files or lines than the budget allows.
        case budget
        /// An added line looks like a credential.
        case secrets
        /// A reviewing model found a problem, or its review could not be taken.
        case review
    }

    /// The check that found the problem.
    public var check: Check
    /// What is wrong and where, in one line.
    public var message: String
    /// The path of a file that backs the finding up, such as a gate's log; `nil` when there is none.
    public var evidence: String?

    /// Creates a finding.
    ///
    /// - Parameters:
    ///   - check: The check that found the problem.
    ///   - message: What is wrong and where, in one line.
    ///   - evidence: The path of a file that backs the finding up, if any.
    public init(_ check: Check, _ message: String, evidence: String? = nil) {
        self.check = check
        self.message = message
        self.evidence = evidence
    }

    /// Reads a finding back from its ``json`` form.
    ///
    /// - Parameter json: An object with `check`, `message` and optionally `evidence`.
    /// - Returns: The finding, or `nil` when `json` is not one.
    public init?(json: JSONValue) {
        guard let name = json["check"]?.stringValue, let check = Check(rawValue: name),
            let message = json["message"]?.stringValue
        else { return nil }
        self.init(check, message, evidence: json["evidence"]?.stringValue)
    }

    /// The JSON form carried in verdicts: `check`, `message`, and `evidence` when there is one.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["check": .string(check.rawValue), "message": .string(message)]
        if let evidence { object["evidence"] = .string(evidence) }
        return .object(object)
    }

    /// One line for people: the check, then the message.
    public var line: String { "\(check.rawValue): \(message)" }
}
