import Bus
import Foundation

/// Claude Code, headless: `claude -p --output-format stream-json --verbose [--model M]
/// [--resume=ID] [extra arguments] -- PROMPT`, run in the request's directory with `CLAUDECODE`
/// dropped from its environment (else it believes it runs nested in another Claude Code).
///
/// Its standard output is NDJSON events (`system`, `assistant`, `user`, `rate_limit_event`,
/// `result`, …) streamed into the transcript; lines that are not JSON are skipped. The `result`
/// event decides, and its `is_error` is the truth whatever `subtype` and the exit status say:
/// - `is_error: false` with a non-empty `result`: ``AgentResult/Outcome/ok`` (with the result as
///   JSON when asked for; not JSON is ``AgentResult/Outcome/invalidOutput(_:)``);
/// - an empty `result`: a usage limit when a `rate_limit_event` was `rejected`, else invalid output;
/// - `is_error: true`: a usage limit when the result or standard error names one (see
///   ``UsageLimitText``), a `rate_limit_event` was rejected or `api_error_status` is 429;
///   ``AgentResult/Outcome/auth(_:)`` for expired or missing credentials; else an error.
/// - no `result` event: the same words are looked for on standard output and standard error;
///   then a non-zero exit is an error and an exit 0 invalid output.
///
/// A rejected `rate_limit_event` gives the reset time (`resetsAt`, epoch seconds). Usage comes
/// from the result's `usage` (input, output, cache read, cache creation tokens) and its cost from
/// `total_cost_usd`, or the older `total_cost` or `cost_usd`, reported as such; without one the
/// cost is unknown. The session is the `session_id` of the `system` init or the result.
public struct ClaudeAdapter: AgentAdapter {
    public let name = "claude"
    /// The program to run.
    public var executable: String
    /// Arguments added before the prompt (`--permission-mode acceptEdits` by default, so edits
    /// are allowed without a terminal to ask on).
    public var extraArguments: [String]

    /// Creates the adapter.
    public init(executable: String = "claude", extraArguments: [String] = ["--permission-mode", "acceptEdits"]) {
        self.executable = executable
        self.extraArguments = extraArguments
    }

    /// The command line for `request`.
    public func arguments(for request: AgentRequest) -> [String] {
        var arguments = [executable, "-p", "--output-format", "stream-json", "--verbose"]
        if let model = request.model { arguments += ["--model", model] }
        if let session = request.resumeSession { arguments.append("--resume=\(session)") }
        return arguments + extraArguments + ["--", request.prompt]
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        let output = try await AgentProcess.run(
            arguments(for: request), request: request,
            environment: AgentProcess.environment(for: request, removing: ["CLAUDECODE"]))
        return Self.result(of: output, wantsJSON: request.wantsJSON)
    }

    /// Classifies a finished run of `claude`.
    public static func result(of output: AgentProcess.Output, wantsJSON: Bool, now: Date = Timestamp.nowDate)
        -> AgentResult
    {
        var session: String?
        var final: JSONValue?
        var rejected: (until: Timestamp?, message: String)?
        for event in AgentReply.events(in: output.stdout) {
            if let id = event["session_id"]?.stringValue { session = id }
            switch event["type"]?.stringValue {
            case "result": final = event
            case "rate_limit_event":
                guard let info = event["rate_limit_info"], info["status"]?.stringValue == "rejected" else { continue }
                let until = AgentReply.double(info["resetsAt"]).map { Timestamp(milliseconds: Int64($0 * 1000)) }
                let kind = info["rateLimitType"]?.stringValue ?? "usage"
                rejected = (until, "\(kind) limit reached")
            default: continue
            }
        }
        let usage = final.map(usage(of:)) ?? AgentUsage()
        func with(_ outcome: AgentResult.Outcome, text: String = "") -> AgentResult {
            AgentResult(outcome: outcome, text: text, usage: usage, session: session)
        }
        switch output.ending {
        case .timedOut: return with(.timeout)
        case .cancelled: return with(.error("the call was cancelled"))
        case .notStarted(let message): return with(.error(message))
        case .signaled(let signal): return with(.error("claude was killed by signal \(signal)"))
        case .exited: break
        }
        guard let final else {
            if let outcome = AgentReply.limitOrAuth(in: [output.stdout, output.stderr], now: now) {
                return with(outcome)
            }
            if let rejected { return with(.rateLimited(until: rejected.until, message: rejected.message)) }
            let code = output.exitCode ?? 0
            let detail = AgentReply.tail(output.stderr.isEmpty ? output.stdout : output.stderr)
            return code == 0
                ? with(.invalidOutput("claude gave no result event\(detail.isEmpty ? "" : ": \(detail)")"))
                : with(.error("claude exited with status \(code)\(detail.isEmpty ? "" : ": \(detail)")"))
        }
        let text = final["result"]?.stringValue ?? ""
        if final["is_error"] == .bool(true) {
            let errors = (final["errors"]?.arrayValue ?? []).compactMap { $0.stringValue ?? $0["message"]?.stringValue }
            let message = ([text] + errors).filter { !$0.isEmpty }.joined(separator: "; ")
            if let outcome = AgentReply.limitOrAuth(in: [message, output.stderr], now: now) {
                return with(outcome, text: text)
            }
            if let rejected { return with(.rateLimited(until: rejected.until, message: rejected.message), text: text) }
            if final["api_error_status"]?.intValue == 429 {
                return with(.rateLimited(until: nil, message: message.isEmpty ? "API error 429" : message), text: text)
            }
            let subtype = final["subtype"]?.stringValue ?? "error"
            return with(.error(message.isEmpty ? subtype : "\(subtype): \(message)"), text: text)
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, let rejected {
            return with(.rateLimited(until: rejected.until, message: rejected.message))
        }
        return AgentReply.finish(reply: text, wantsJSON: wantsJSON, usage: usage, session: session)
    }

    /// The usage of a `result` event.
    static func usage(of result: JSONValue) -> AgentUsage {
        let tokens = result["usage"]
        let cost =
            AgentReply.double(result["total_cost_usd"]) ?? AgentReply.double(result["total_cost"])
            ?? AgentReply.double(result["cost_usd"])
        return AgentUsage(
            inputTokens: tokens?["input_tokens"]?.intValue, outputTokens: tokens?["output_tokens"]?.intValue,
            cacheReadTokens: tokens?["cache_read_input_tokens"]?.intValue,
            cacheWriteTokens: tokens?["cache_creation_input_tokens"]?.intValue, costUSD: cost,
            costSource: cost == nil ? .unknown : .reported)
    }
}
