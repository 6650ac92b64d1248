import Bus
import Foundation

/// Codex CLI, headless: `codex exec --json --sandbox workspace-write -C DIR [-m MODEL] [extra
/// arguments] [resume ID] -- PROMPT`, run in the request's directory.
///
/// Its standard output is JSONL events streamed into the transcript; lines that are not JSON are
/// skipped. `thread.started` gives the thread id (the session, for `codex exec resume`);
/// `item.completed` items of type `agent_message` carry the reply (the last one is the result);
/// each `turn.completed` adds its `usage` (`input_tokens`, `cached_input_tokens`,
/// `output_tokens`, `reasoning_output_tokens`). Codex reports no cost: it is unknown here.
///
/// A `turn.failed`, or `error` events without a completed turn (Codex also reports errors it
/// recovers from, such as reconnects, as `error` events), fail the call: a usage limit when the
/// message or standard error names one (`You've hit your usage limit. … try again at 3:05 PM`,
/// see ``UsageLimitText``), ``AgentResult/Outcome/auth(_:)`` for credentials, else an error. A
/// non-zero exit is classified the same way from standard error; an exit 0 without a reply is
/// ``AgentResult/Outcome/invalidOutput(_:)``.
public struct CodexAdapter: AgentAdapter {
    public let name = "codex"
    /// The program to run.
    public var executable: String
    /// Arguments added after the `exec` options (for example `-c approval_policy="never"`).
    public var extraArguments: [String]

    /// Creates the adapter.
    public init(executable: String = "codex", extraArguments: [String] = []) {
        self.executable = executable
        self.extraArguments = extraArguments
    }

    /// The command line for `request`.
    public func arguments(for request: AgentRequest) -> [String] {
        var arguments = [executable, "exec", "--json", "--sandbox", "workspace-write", "-C", request.directory]
        if let model = request.model { arguments += ["-m", model] }
        arguments += extraArguments
        if let session = request.resumeSession { arguments += ["resume", session] }
        return arguments + ["--", request.prompt]
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        let output = try await AgentProcess.run(
            arguments(for: request), request: request, environment: AgentProcess.environment(for: request))
        return Self.result(of: output, wantsJSON: request.wantsJSON)
    }

    /// Classifies a finished run of `codex exec --json`.
    public static func result(of output: AgentProcess.Output, wantsJSON: Bool, now: Date = Timestamp.nowDate)
        -> AgentResult
    {
        var session: String?
        var reply: String?
        var usage = AgentUsage()
        var completedTurn = false
        var failures: [String] = []
        var turnFailed = false
        func add(_ a: Int?, _ b: Int?) -> Int? { a == nil && b == nil ? nil : (a ?? 0) + (b ?? 0) }
        for event in AgentReply.events(in: output.stdout) {
            switch event["type"]?.stringValue {
            case "thread.started": session = event["thread_id"]?.stringValue ?? session
            case "item.completed":
                let item = event["item"]
                if item?["type"]?.stringValue == "agent_message", let text = item?["text"]?.stringValue {
                    reply = text
                }
            case "turn.completed":
                completedTurn = true
                let tokens = event["usage"]
                usage.inputTokens = add(usage.inputTokens, tokens?["input_tokens"]?.intValue)
                usage.cacheReadTokens = add(usage.cacheReadTokens, tokens?["cached_input_tokens"]?.intValue)
                usage.outputTokens = add(usage.outputTokens, tokens?["output_tokens"]?.intValue)
                usage.reasoningTokens = add(usage.reasoningTokens, tokens?["reasoning_output_tokens"]?.intValue)
            case "turn.failed":
                turnFailed = true
                failures.append(event["error"]?["message"]?.stringValue ?? "the turn failed")
            case "error":
                failures.append(event["message"]?.stringValue ?? "error")
            default: continue
            }
        }
        func with(_ outcome: AgentResult.Outcome) -> AgentResult {
            AgentResult(outcome: outcome, text: reply ?? "", usage: usage, session: session)
        }
        switch output.ending {
        case .timedOut: return with(.timeout)
        case .cancelled: return with(.error("the call was cancelled"))
        case .notStarted(let message): return with(.error(message))
        case .signaled(let signal): return with(.error("codex was killed by signal \(signal)"))
        case .exited: break
        }
        let code = output.exitCode ?? 0
        if turnFailed || (!failures.isEmpty && !completedTurn) || code != 0 {
            let message = failures.joined(separator: "; ")
            if let outcome = AgentReply.limitOrAuth(in: [message, output.stderr], now: now) { return with(outcome) }
            if !message.isEmpty { return with(.error(message)) }
            let detail = AgentReply.tail(output.stderr)
            return with(.error("codex exited with status \(code)\(detail.isEmpty ? "" : ": \(detail)")"))
        }
        return AgentReply.finish(reply: reply ?? "", wantsJSON: wantsJSON, usage: usage, session: session)
    }
}
