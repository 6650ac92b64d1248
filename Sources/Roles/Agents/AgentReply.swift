import Bus
import Foundation

/// What every CLI adapter (Claude Code, Codex, Gemini CLI, Aider, cursor-agent, a user's command)
/// shares: the prompt file, NDJSON event streams, the final reply and its JSON, and the words that
/// mean a limit or a credentials problem.
enum AgentReply {
    /// Writes the prompt of `request` next to its transcript (the transcript's path plus
    /// `.prompt.md`), for agents that read their prompt from a file.
    /// - Returns: the path of the prompt file.
    static func writePrompt(of request: AgentRequest) throws(RoleError) -> String {
        let path = request.transcript + ".prompt.md"
        try write(request.prompt, to: path)
        return path
    }

    /// Writes the prompt to `path`, creating its folder.
    static func write(_ prompt: String, to path: String) throws(RoleError) {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(prompt.utf8)) else {
            throw RoleError(.io, "\(path): cannot write the prompt")
        }
    }

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

    /// The last `count` non-empty lines of `text`, joined with ` | `, for an error message.
    static func tail(_ text: String, count: Int = 3) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.suffix(count).joined(separator: " | ")
    }

    /// Words of an agent that mean its credentials are missing, wrong or expired, in lower case.
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

    /// A usage limit named in `text`, with its reset time when the text gives one.
    static func limit(in text: String, now: Date) -> AgentResult.Outcome? {
        guard let limit = UsageLimitText.recognize(text, now: now) else { return nil }
        return .rateLimited(until: limit.resetsAt, message: limit.message)
    }

    /// A usage limit (with its reset time) or a credentials problem named in `text`, if any.
    static func limitOrAuth(in text: String, now: Date) -> AgentResult.Outcome? {
        limitOrAuth(in: [text], now: now)
    }

    /// A limit named in any of `texts`, else a credentials problem named in any of them, if any.
    static func limitOrAuth(in texts: [String], now: Date) -> AgentResult.Outcome? {
        for text in texts {
            if let limit = limit(in: text, now: now) { return limit }
        }
        for text in texts {
            if let line = credentialFailure(in: text) { return .auth(line) }
        }
        return nil
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

    /// `text` as JSON, or the last fenced block of it that is JSON (```` ```json ````), or `nil`.
    static func json(in text: String) -> JSONValue? {
        if let whole = try? JSONValue.parse(text) { return whole }
        let blocks = text.components(separatedBy: "```")
        guard blocks.count >= 3 else { return nil }
        for index in stride(from: blocks.count - 2, through: 1, by: -2) {
            var block = Substring(blocks[index])
            if let newline = block.firstIndex(of: "\n"), block[..<newline].allSatisfy({ $0.isLetter }) {
                block = block[block.index(after: newline)...]
            }
            if let value = try? JSONValue.parse(String(block)) { return value }
        }
        return nil
    }
}
