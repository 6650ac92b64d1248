import Bus
import Foundation

/// Gemini CLI, headless: `gemini -p PROMPT -o stream-json --approval-mode yolo --skip-trust
/// [-m MODEL] [--resume SESSION] [extra arguments]`, run in the request's directory.
///
/// Its standard output is stream-json events streamed into the transcript; lines that are not
/// JSON are skipped. `init` gives the session id; the `content` of the assistant's `message`
/// events, in order, is the reply; `result` carries `status` (`success` or `error`), `error` and
/// `stats` (`input_tokens`, `output_tokens`, `cached`). Gemini CLI reports no cost: it is unknown.
///
/// A `result` with status `error`, or a non-zero exit, fails the call: exit 41 is
/// ``AgentResult/Outcome/auth(_:)``; otherwise a quota message (`You have exhausted your daily
/// quota on this model.`, a retryable quota error with its `retry in 23s`, see ``UsageLimitText``)
/// in the errors or on standard error is a usage limit, credentials words are an auth failure,
/// and anything else is an error naming the exit status's meaning (42 bad input, 44 sandbox,
/// 52 configuration, 53 turn limit, 54 tool error, 55 untrusted folder, 130 cancelled). An
/// exit 0 with an empty reply is ``AgentResult/Outcome/invalidOutput(_:)``.
public struct GeminiAdapter: AgentAdapter {
    public let name = "gemini"
    /// The program to run.
    public var executable: String
    /// Arguments added after the adapter's own.
    public var extraArguments: [String]

    /// Creates the adapter.
    public init(executable: String = "gemini", extraArguments: [String] = []) {
        self.executable = executable
        self.extraArguments = extraArguments
    }

    /// The command line for `request`.
    public func arguments(for request: AgentRequest) -> [String] {
        var arguments = [
            executable, "-p", request.prompt, "-o", "stream-json", "--approval-mode", "yolo", "--skip-trust",
        ]
        if let model = request.model { arguments += ["-m", model] }
        if let session = request.resumeSession { arguments += ["--resume", session] }
        return arguments + extraArguments
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        let output = try await AgentProcess.run(
            arguments(for: request), request: request, environment: AgentProcess.environment(for: request))
        return Self.result(of: output, wantsJSON: request.wantsJSON)
    }

    /// What Gemini CLI's exit statuses mean.
    static let exitMeanings: [Int32: String] = [
        1: "general or API error", 41: "authentication failed", 42: "bad input", 44: "sandbox error",
        52: "configuration error", 53: "turn limit reached", 54: "tool error", 55: "untrusted workspace",
        130: "cancelled",
    ]

    /// Classifies a finished run of `gemini -o stream-json`.
    public static func result(of output: AgentProcess.Output, wantsJSON: Bool, now: Date = Timestamp.nowDate)
        -> AgentResult
    {
        var session: String?
        var reply = ""
        var final: JSONValue?
        var errors: [String] = []
        for event in AgentReply.events(in: output.stdout) {
            switch event["type"]?.stringValue {
            case "init": session = event["session_id"]?.stringValue ?? session
            case "message":
                if event["role"]?.stringValue == "assistant", let content = event["content"]?.stringValue {
                    reply += content
                }
            case "error":
                if let message = event["message"]?.stringValue { errors.append(message) }
            case "result": final = event
            default: continue
            }
        }
        let stats = final?["stats"]
        let usage = AgentUsage(
            inputTokens: stats?["input_tokens"]?.intValue, outputTokens: stats?["output_tokens"]?.intValue,
            cacheReadTokens: stats?["cached"]?.intValue, costSource: .unknown)
        func with(_ outcome: AgentResult.Outcome) -> AgentResult {
            AgentResult(outcome: outcome, text: reply, usage: usage, session: session)
        }
        switch output.ending {
        case .timedOut: return with(.timeout)
        case .cancelled: return with(.error("the call was cancelled"))
        case .notStarted(let message): return with(.error(message))
        case .signaled(let signal): return with(.error("gemini was killed by signal \(signal)"))
        case .exited: break
        }
        let code = output.exitCode ?? 0
        guard code != 0 || final?["status"]?.stringValue == "error" else {
            return AgentReply.finish(reply: reply, wantsJSON: wantsJSON, usage: usage, session: session)
        }
        if let message = final?["error"]?["message"]?.stringValue { errors.append(message) }
        let message = errors.isEmpty ? AgentReply.tail(output.stderr) : errors.joined(separator: "; ")
        let meaning =
            code == 0 ? "the run failed" : exitMeanings[code].map { "\($0) (exit \(code))" } ?? "exit \(code)"
        if code == 41 { return with(.auth(message.isEmpty ? "gemini: \(meaning)" : message)) }
        if let outcome = AgentReply.limitOrAuth(in: [errors.joined(separator: "\n"), output.stderr], now: now) {
            return with(outcome)
        }
        return with(.error("gemini: \(meaning)\(message.isEmpty ? "" : ": \(message)")"))
    }
}
