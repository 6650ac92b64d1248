import Bus

/// One answer of the planner's model, as the planner sends it to itself (a `draft` envelope) so
/// that its fold reads it back from the bus: the intent questions, a tech spec or a plan, each
/// with the call's `usage` and, when the answer is not usable, why.
///
/// Body: `purpose` (`questions`, `spec` or `plan`), `try` (from 1), `text` (the model's answer,
/// redacted), `questions` (the questions kept), `error` (why the answer is not usable, or
/// `null`), `outcome` (the call's), `usage` (one record), `summary`.
struct Draft: Sendable, Equatable {
    /// What the model was asked for.
    enum Purpose: String, Sendable, Equatable {
        case questions, spec, plan

        /// What it is called in messages.
        var what: String {
            switch self {
            case .questions: return "intent questions"
            case .spec: return "tech spec"
            case .plan: return "plan"
            }
        }
    }

    /// Tries per purpose: the first one and two more with the previous one's errors.
    static let maxTries = 3

    var purpose: Purpose
    var attempt: Int
    var text: String
    var questions: [String]
    var error: String?

    init(purpose: Purpose, attempt: Int, text: String, questions: [String] = [], error: String?) {
        self.purpose = purpose
        self.attempt = attempt
        self.text = text
        self.questions = questions
        self.error = error
    }

    /// Reads a `draft` envelope (an unknown purpose reads as a plan that is not usable).
    init(_ envelope: Envelope) {
        let body = envelope.body
        purpose = body["purpose"]?.stringValue.flatMap(Purpose.init(rawValue:)) ?? .plan
        attempt = body["try"]?.intValue ?? 1
        text = body["text"]?.stringValue ?? ""
        questions = body["questions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        error = body["error"]?.stringValue
        if body["purpose"]?.stringValue.flatMap(Purpose.init(rawValue:)) == nil {
            error = "unknown purpose \(body["purpose"]?.serialized() ?? "null")"
        }
    }

    /// True when no other try follows this one.
    var isLastTry: Bool { attempt >= Self.maxTries }

    /// The reason the run halts when the last try is not usable either.
    var failure: String {
        "the model's \(purpose.what) was not usable after \(attempt) tr\(attempt == 1 ? "y" : "ies"): "
            + (error ?? "no reason recorded")
    }

    /// The envelope body, with the call's outcome and usage record.
    func body(outcome: String, usage: JSONValue) -> [String: JSONValue] {
        [
            "purpose": .string(purpose.rawValue), "try": .number(Double(attempt)), "text": .string(text),
            "questions": .array(questions.map(JSONValue.string)), "error": error.map(JSONValue.string) ?? .null,
            "outcome": .string(outcome), "usage": .array([usage]),
            "summary": .string(
                "\(purpose.what), try \(attempt): " + (error.map { "not usable: " + String($0.prefix(200)) } ?? "ok")),
        ]
    }
}
