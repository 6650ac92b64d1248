import Bus
import Foundation

/// What the streaming CLI adapters (Claude Code, Codex, Gemini CLI) share: reading NDJSON event
/// streams, the final reply as JSON, and the words that mean a credentials problem.
enum AgentStream {
    /// The JSON objects of an NDJSON stream, in order. Lines that are not JSON objects (a
    /// warning printed among the events, a truncated line) are skipped.
    static func events(in text: String) -> [JSONValue] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("{"), let value = try? JSONValue.parse(trimmed), value.objectValue != nil
            else { return nil }
            return value
        }
    }

    /// A number field as a `Double`.
    static func double(_ value: JSONValue?) -> Double? {
        if case .number(let d)? = value { return d }
        return nil
    }

    /// Words of an agent that mean its credentials are missing, wrong or expired.
    static let credentialPhrases = [
        "oauth token has expired", "invalid api key", "invalid_api_key", "invalid authentication",
        "authentication required", "authenticationerror", "authentication_error", "not logged in",
        "please run /login", "401 unauthorized", "api key not valid", "token expired", "unauthenticated",
    ]

    /// The first line of `text` that names a credentials problem, trimmed.
    static func credentialFailure(in text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let lower = line.lowercased()
            if credentialPhrases.contains(where: { lower.contains($0) }) {
                return String(line.trimmingCharacters(in: .whitespaces).prefix(400))
            }
        }
        return nil
    }

    /// A limit or a credentials problem named in any of `texts`, if any.
    static func limitOrAuth(in texts: [String], now: Date) -> AgentResult.Outcome? {
        for text in texts {
            if let limit = UsageLimitText.recognize(text, now: now) {
                return .rateLimited(until: limit.resetsAt, message: limit.message)
            }
        }
        for text in texts {
            if let line = credentialFailure(in: text) { return .auth(line) }
        }
        return nil
    }

    /// The last `count` non-empty lines of `text`, joined with ` | `, for an error message.
    static func tail(_ text: String, count: Int = 3) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.suffix(count).joined(separator: " | ")
    }

    /// The result of a call that ended well: the reply, and its JSON when the request asked for
    /// JSON. An empty reply, or one that is not JSON when JSON was asked for, is invalid output.
    static func finish(reply: String, wantsJSON: Bool, usage: AgentUsage, session: String?) -> AgentResult {
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            return AgentResult(
                outcome: .invalidOutput("the agent gave an empty result"), usage: usage, session: session)
        }
        guard wantsJSON else { return AgentResult(outcome: .ok, text: text, usage: usage, session: session) }
        guard let json = json(in: text) else {
            return AgentResult(
                outcome: .invalidOutput("the result is not JSON: \(text.prefix(200))"), text: text, usage: usage,
                session: session)
        }
        return AgentResult(outcome: .ok, text: text, json: json, usage: usage, session: session)
    }

    /// `text` as JSON, or the content of its one fenced code block as JSON.
    static func json(in text: String) -> JSONValue? {
        if let value = try? JSONValue.parse(text) { return value }
        guard let open = text.range(of: "```") else { return nil }
        var body = text[open.upperBound...]
        if let newline = body.firstIndex(of: "\n") { body = body[body.index(after: newline)...] }
        guard let close = body.range(of: "```") else { return nil }
        return try? JSONValue.parse(String(body[..<close.lowerBound]))
    }
}
