import Bus
import Foundation

/// Runs [Aider](https://aider.chat) for one call.
///
/// The contract:
/// - Command: `aider --message-file F --yes-always --no-pretty --no-stream --no-check-update
///   --analytics-disable [--model M]`, in ``AgentRequest/directory``, where `F` is the prompt
///   written next to the transcript (the transcript's path plus `.prompt.md`). Aider has no
///   session to resume: ``AgentRequest/resumeSession`` is ignored and ``AgentResult/session`` is
///   `nil`.
/// - Output: plain text on standard output (Aider has no JSON output). The reply is what is left
///   once Aider's banner lines (`Aider v…`, `Main model:`, `Git repo:`, `Repo-map:`, …), its
///   retry notes and its usage report are removed. When the request wants JSON, the reply (or
///   its last fenced block) must parse as JSON.
/// - Usage: every `Tokens: X sent, Y cache write, Z cache hit, W received.` line is summed (Aider
///   rounds counts of 1000 and more to `1.2k`, `12k`, `1.2M`); the cost is the `$b session` of the
///   last `Cost: $a message, $b session.` line, reported. Without a cost line the cost is unknown.
/// - Failures: Aider exits 0 after a failed `--message` run, so the exit status is not trusted.
///   A failure line (`litellm.…Error:` or one of Aider's own explanations) after the last usage
///   report means the call failed: `The API provider has rate limited you.` and any usage-limit
///   text is ``AgentResult/Outcome/rateLimited(until:message:)``; an authentication failure or a
///   missing API key is ``AgentResult/Outcome/auth(_:)``; anything else is an error. A failure
///   followed by a usage report (a retry that worked) is not a failure. A non-zero exit is an
///   error, a run past the time limit a ``AgentResult/Outcome/timeout``, and a run with no reply
///   ``AgentResult/Outcome/invalidOutput(_:)``.
public struct AiderAdapter: AgentAdapter {
    public let name = "aider"
    /// The program to run (`aider`, searched in the request's `PATH`, by default).
    public var executable: String

    /// Creates the adapter.
    public init(executable: String = "aider") {
        self.executable = executable
    }

    /// The command line for `request`, with the prompt in `promptFile`.
    public func arguments(for request: AgentRequest, promptFile: String) -> [String] {
        var arguments = [
            executable, "--message-file", promptFile, "--yes-always", "--no-pretty", "--no-stream",
            "--no-check-update", "--analytics-disable",
        ]
        if let model = request.model { arguments += ["--model", model] }
        return arguments
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        let promptFile = try AgentReply.writePrompt(of: request)
        let output = try await AgentProcess.run(
            arguments(for: request, promptFile: promptFile), request: request,
            environment: AgentProcess.environment(for: request))
        return Self.result(of: output, wantsJSON: request.wantsJSON)
    }

    /// Classifies a finished run of Aider.
    public static func result(of output: AgentProcess.Output, wantsJSON: Bool, now: Date = Timestamp.nowDate)
        -> AgentResult
    {
        let report = parse(output.stdout)
        switch output.ending {
        case .timedOut: return AgentResult(outcome: .timeout, text: report.reply, usage: report.usage)
        case .cancelled: return AgentResult(outcome: .error("the call was cancelled"), usage: report.usage)
        case .notStarted(let why): return AgentResult(outcome: .error(why))
        case .signaled(let signal):
            return AgentResult(outcome: .error("aider was killed by signal \(signal)"), usage: report.usage)
        case .exited(let code):
            let failure = report.failure ?? failureLine(in: output.stderr)
            if let failure {
                return AgentResult(
                    outcome: classify(failure: failure, all: output.stdout + "\n" + output.stderr, now: now),
                    text: report.reply, usage: report.usage)
            }
            if code != 0 {
                let tail = AgentReply.tail(output.stderr.isEmpty ? output.stdout : output.stderr)
                let outcome =
                    AgentReply.limitOrAuth(in: output.stdout + "\n" + output.stderr, now: now)
                    ?? .error("aider exited \(code)" + (tail.isEmpty ? "" : ": \(tail)"))
                return AgentResult(outcome: outcome, text: report.reply, usage: report.usage)
            }
            return AgentReply.finish(reply: report.reply, wantsJSON: wantsJSON, usage: report.usage, session: nil)
        }
    }

    /// What Aider's standard output says.
    public struct Report: Sendable, Equatable {
        /// The reply, without banner, retry notes and usage report.
        public var reply: String
        public var usage: AgentUsage
        /// The first failure line after the last usage report, if any.
        public var failure: String?
    }

    /// Reads Aider's standard output.
    public static func parse(_ stdout: String) -> Report {
        var usage = AgentUsage()
        var replyLines: [String] = []
        var failure: String?
        for raw in stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            var isReport = false
            if let tokens = tokenCounts(line) {
                usage.inputTokens = (usage.inputTokens ?? 0) + tokens.sent
                usage.outputTokens = (usage.outputTokens ?? 0) + tokens.received
                if let write = tokens.cacheWrite { usage.cacheWriteTokens = (usage.cacheWriteTokens ?? 0) + write }
                if let hit = tokens.cacheHit { usage.cacheReadTokens = (usage.cacheReadTokens ?? 0) + hit }
                failure = nil
                isReport = true
            }
            if let session = sessionCost(line) {
                usage.costUSD = session
                usage.costSource = .reported
                isReport = true
            }
            if isReport { continue }
            if isFailure(line) {
                if failure == nil { failure = line }
                continue
            }
            if isNoise(line) { continue }
            replyLines.append(String(raw))
        }
        let reply = replyLines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return Report(reply: reply, usage: usage, failure: failure)
    }

    /// The counts of a `Tokens: …` line.
    static func tokenCounts(
        _ line: String
    ) -> (sent: Int, received: Int, cacheWrite: Int?, cacheHit: Int?)? {
        guard line.hasPrefix("Tokens: ") else { return nil }
        var body = line.dropFirst("Tokens: ".count)
        // The cost may follow on the same line.
        if let end = body.range(of: "received.") { body = body[..<end.upperBound] }
        var sent: Int?
        var received: Int?
        var write: Int?
        var hit: Int?
        for part in body.split(separator: ",") {
            let words = part.trimmingCharacters(in: CharacterSet(charactersIn: " .")).split(
                separator: " ", maxSplits: 1)
            guard words.count == 2, let count = count(String(words[0])) else { continue }
            switch words[1] {
            case "sent": sent = count
            case "received": received = count
            case "cache write": write = count
            case "cache hit": hit = count
            default: continue
            }
        }
        guard let sent, let received else { return nil }
        return (sent, received, write, hit)
    }

    /// `245`, `1.2k`, `12k`, `1.5M` as a number.
    static func count(_ text: String) -> Int? {
        let scale: Double
        var digits = Substring(text)
        switch text.last {
        case "k", "K":
            scale = 1_000
            digits = digits.dropLast()
        case "M", "m":
            scale = 1_000_000
            digits = digits.dropLast()
        default: scale = 1
        }
        guard let value = Double(digits.replacingOccurrences(of: ",", with: "")), value >= 0 else { return nil }
        return Int((value * scale).rounded())
    }

    /// The `$b` of `Cost: $a message, $b session.`, on its own line or after the token counts.
    static func sessionCost(_ line: String) -> Double? {
        guard let start = line.range(of: "Cost: $") else { return nil }
        let rest = line[start.upperBound...]
        guard let comma = rest.range(of: " message, $") else { return nil }
        let tail = rest[comma.upperBound...]
        guard let end = tail.range(of: " session") else { return nil }
        return Double(tail[..<end.lowerBound])
    }

    /// Aider's words when a call to the model failed.
    static let failureTexts = [
        "The API provider has rate limited you", "The API provider is not able to authenticate you",
        "The API provider's servers are down or overloaded", "The API provider timed out",
        "The API provider has refused the request", "Missing these environment variables",
    ]

    static func isFailure(_ line: String) -> Bool {
        if line.hasPrefix("litellm."), line.contains("Error") { return true }
        return failureTexts.contains { line.contains($0) }
    }

    /// The first failure line of `text`.
    static func failureLine(in text: String) -> String? {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first(where: isFailure)
    }

    /// Lines Aider prints around the reply.
    static func isNoise(_ line: String) -> Bool {
        let prefixes = [
            "Aider v", "Main model:", "Weak model:", "Editor model:", "Model:", "Git repo:", "Repo-map:",
            "Use /help", "Retrying in ", "Added ", "Warning: ", "https://aider.chat/", "Applied edit to ",
            "Commit ",
        ]
        return prefixes.contains { line.hasPrefix($0) }
    }

    /// The outcome of a failed call whose first failure line is `failure`.
    static func classify(failure: String, all: String, now: Date) -> AgentResult.Outcome {
        if let known = AgentReply.limitOrAuth(in: all, now: now) { return known }
        if all.contains("The API provider has rate limited you") || all.contains("litellm.RateLimitError") {
            return .rateLimited(until: nil, message: failure)
        }
        if all.contains("AuthenticationError") || all.contains("not able to authenticate you")
            || all.contains("Missing these environment variables")
        {
            return .auth(failure)
        }
        return .error(failure)
    }
}
