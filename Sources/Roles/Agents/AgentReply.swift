import Bus
import Foundation

/// What the text-reading CLI adapters (Aider, cursor-agent, a user's command) share: the prompt
/// file, the final reply and its JSON, and the words that mean a limit or a credentials problem.
enum AgentReply {
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

    /// The last `count` non-empty lines of `text`, joined with ` | `, for an error message.
    static func lastLines(_ text: String, count: Int = 3) -> String {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .suffix(count).joined(separator: " | ")
    }

    /// Words of an agent that mean its credentials are missing, wrong or expired.
    static let authTexts = [
        "OAuth token has expired", "Invalid API key", "invalid_api_key", "Invalid authentication",
        "Authentication required", "AuthenticationError", "authentication_error", "Not logged in",
        "not logged in", "Please run /login", "401 Unauthorized",
    ]

    /// A usage limit (with its reset time) or a credentials problem named in `text`, if any.
    static func limitOrAuth(in text: String, now: Date) -> AgentResult.Outcome? {
        if let limit = limit(in: text, now: now) { return limit }
        for line in text.split(separator: "\n") where authTexts.contains(where: { line.contains($0) }) {
            return .auth(line.trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// A usage limit named in `text`, with its reset time when the text gives one.
    static func limit(in text: String, now: Date) -> AgentResult.Outcome? {
        guard let limit = UsageLimitText.recognize(text, now: now) else { return nil }
        return .rateLimited(until: limit.resetsAt, message: limit.message)
    }

    /// The result of a call that ended well: the reply, parsed as JSON when asked for.
    static func finish(reply: String, wantsJSON: Bool, usage: AgentUsage, session: String?) -> AgentResult {
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            return AgentResult(outcome: .invalidOutput("the agent gave an empty reply"), usage: usage, session: session)
        }
        guard wantsJSON else { return AgentResult(outcome: .ok, text: text, usage: usage, session: session) }
        guard let json = json(in: text) else {
            return AgentResult(
                outcome: .invalidOutput("the reply is not JSON: \(text.prefix(200))"), text: text, usage: usage,
                session: session)
        }
        return AgentResult(outcome: .ok, text: text, json: json, usage: usage, session: session)
    }

    /// `text` as JSON, or the last fenced block of it (```` ```json ````), or `nil`.
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
