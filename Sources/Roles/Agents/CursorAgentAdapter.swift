import Bus
import Foundation

/// Runs Cursor's `cursor-agent` CLI for one call.
///
/// The contract (cursor-agent is closed source; this follows its documented stream):
/// - Command: `cursor-agent -p --output-format stream-json --force --trust [--model M]
///   [--resume <chatId>] <prompt>`, in ``AgentRequest/directory``.
/// - Output: one JSON event per line on standard output, field `type`: `system` (subtype `init`:
///   `session_id`, `model`, `cwd`), `user`, `assistant` (`message.content[].text`), `thinking`,
///   `tool_call` (subtype `started`/`completed`) and a final `result` (`subtype`, `is_error`,
///   `result`, `duration_ms`, `session_id`). A line that is not a JSON object is skipped.
/// - Result: the `result` event's text; its `session_id` (else the `init` event's) is the
///   session to resume. With no `result` event, the text of the `assistant` events is not
///   trusted: the call is ``AgentResult/Outcome/invalidOutput(_:)`` (or an error when the
///   command exited non-zero).
/// - Failures: `is_error: true` is a failure whatever the exit status: usage-limit text (on
///   standard output or error) is ``AgentResult/Outcome/rateLimited(until:message:)``,
///   credentials words ``AgentResult/Outcome/auth(_:)``, anything else an error. An empty
///   result is ``AgentResult/Outcome/invalidOutput(_:)``.
/// - Usage: cursor-agent reports no tokens and no cost: every count is `nil` and the cost
///   ``AgentUsage/CostSource/unknown``.
public struct CursorAgentAdapter: AgentAdapter {
    public let name = "cursor-agent"
    /// The program to run (`cursor-agent`, searched in the request's `PATH`, by default).
    public var executable: String

    /// Creates the adapter.
    public init(executable: String = "cursor-agent") {
        self.executable = executable
    }

    /// The command line for `request`.
    public func arguments(for request: AgentRequest) -> [String] {
        var arguments = [executable, "-p", "--output-format", "stream-json", "--force", "--trust"]
        if let model = request.model { arguments += ["--model", model] }
        if let session = request.resumeSession { arguments += ["--resume", session] }
        arguments.append(request.prompt)
        return arguments
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        let output = try await AgentProcess.run(
            arguments(for: request), request: request, environment: AgentProcess.environment(for: request))
        return Self.result(of: output, wantsJSON: request.wantsJSON)
    }

    /// What cursor-agent's event stream says.
    public struct Stream: Sendable, Equatable {
        /// The session id, from the `result` event or else the `init` event.
        public var session: String?
        /// The model named by the `init` event.
        public var model: String?
        /// The text of the `assistant` events, in order.
        public var assistantText: String
        /// The `result` event, when there was one.
        public var result: Final?
        /// Lines that were not JSON objects.
        public var skippedLines: Int
    }

    /// The `result` event: its `result`, `is_error` and `subtype`.
    public struct Final: Sendable, Equatable {
        public var text: String
        public var isError: Bool
        public var subtype: String?

        public init(text: String, isError: Bool, subtype: String?) {
            self.text = text
            self.isError = isError
            self.subtype = subtype
        }
    }

    /// Reads cursor-agent's standard output.
    public static func parse(_ stdout: String) -> Stream {
        var stream = Stream(session: nil, model: nil, assistantText: "", result: nil, skippedLines: 0)
        for line in stdout.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let event = try? JSONValue.parse(trimmed), let type = event["type"]?.stringValue else {
                stream.skippedLines += 1
                continue
            }
            switch type {
            case "system":
                if stream.session == nil { stream.session = event["session_id"]?.stringValue }
                stream.model = event["model"]?.stringValue ?? stream.model
            case "assistant":
                for part in event["message"]?["content"]?.arrayValue ?? [] {
                    if let text = part["text"]?.stringValue { stream.assistantText += text }
                }
            case "result":
                stream.session = event["session_id"]?.stringValue ?? stream.session
                let isError = event["is_error"] == .bool(true)
                stream.result = Final(
                    text: event["result"]?.stringValue ?? "", isError: isError, subtype: event["subtype"]?.stringValue)
            default: continue
            }
        }
        return stream
    }

    /// Classifies a finished run of cursor-agent.
    public static func result(of output: AgentProcess.Output, wantsJSON: Bool, now: Date = Timestamp.nowDate)
        -> AgentResult
    {
        let stream = parse(output.stdout)
        let usage = AgentUsage(costSource: .unknown)
        let all = output.stdout + "\n" + output.stderr
        func failed(_ fallback: String) -> AgentResult {
            AgentResult(
                outcome: AgentReply.limitOrAuth(in: all, now: now) ?? .error(fallback),
                text: stream.result?.text ?? "", usage: usage, session: stream.session)
        }
        switch output.ending {
        case .timedOut: return AgentResult(outcome: .timeout, usage: usage, session: stream.session)
        case .cancelled: return AgentResult(outcome: .error("the call was cancelled"), session: stream.session)
        case .notStarted(let why): return AgentResult(outcome: .error(why))
        case .signaled(let signal): return failed("cursor-agent was killed by signal \(signal)")
        case .exited(let code):
            if let result = stream.result, result.isError {
                let message = result.text.isEmpty ? (result.subtype ?? "error") : result.text
                return failed("cursor-agent failed: \(message)")
            }
            if code != 0 {
                let tail = AgentReply.tail(output.stderr.isEmpty ? output.stdout : output.stderr)
                return failed("cursor-agent exited \(code)" + (tail.isEmpty ? "" : ": \(tail)"))
            }
            guard let result = stream.result else {
                let reason =
                    stream.skippedLines > 0 && stream.session == nil
                    ? "cursor-agent's output is not a JSON event stream" : "cursor-agent's stream has no result event"
                return AgentResult(
                    outcome: AgentReply.limit(in: all, now: now) ?? .invalidOutput(reason), text: stream.assistantText,
                    usage: usage, session: stream.session)
            }
            return AgentReply.finish(reply: result.text, wantsJSON: wantsJSON, usage: usage, session: stream.session)
        }
    }
}
