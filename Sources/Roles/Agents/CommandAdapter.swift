import Bus
import Foundation

/// Runs a user's own command as an agent: an argument template, run without a shell.
///
/// The contract:
/// - Command: ``template``, each argument with its placeholders replaced: `{prompt_file}` (the
///   prompt, written next to the transcript as the transcript's path plus `.prompt.md`),
///   `{workdir}` (``AgentRequest/directory``), `{model}` (``AgentRequest/model``) and
///   `{session}` (``AgentRequest/resumeSession``). A placeholder with no value becomes the empty
///   string, and an argument that was only that placeholder is left out. The command runs in
///   ``AgentRequest/directory``.
/// - Output ``Output/text``: standard output is the reply.
/// - Output ``Output/json``: standard output is one JSON object (or, when the whole output does
///   not parse, its last non-empty line is):
///   ```json
///   {"text": "the reply",
///    "session": "id to pass back as {session}",
///    "usage": {"input": 1200, "output": 300, "cache_read": 0, "cache_write": 0, "reasoning": 0,
///              "cost_usd": 0.0123},
///    "error": {"type": "error|rate_limit|auth", "message": "what went wrong",
///              "resets_at": 1789000000}}
///   ```
///   `text` is required unless `error` is given; every other field is optional, and every usage
///   field may be a number or null (the same names as ``AgentUsage/json``). A `cost_usd` makes
///   the cost reported; without it the cost is unknown. `resets_at` is in epoch seconds.
/// - Failures: an `error` object is the outcome it names. A non-zero exit is an error, unless
///   standard output or error shows a usage limit (``AgentResult/Outcome/rateLimited(until:message:)``)
///   or a credentials problem (``AgentResult/Outcome/auth(_:)``). With exit 0 and text output, a
///   usage limit is believed only when standard output is at most one line (the limit itself):
///   a longer reply may well speak of limits. An empty reply, or JSON output that does not parse or
///   lacks `text`, is ``AgentResult/Outcome/invalidOutput(_:)``; a run past the time limit is a
///   ``AgentResult/Outcome/timeout``.
public struct CommandAdapter: AgentAdapter {
    /// How the command gives its reply.
    public enum Output: String, Sendable, Equatable {
        /// Plain text on standard output.
        case text
        /// One JSON object on standard output (see ``CommandAdapter``).
        case json
    }

    public var name: String
    /// The program and its arguments, with placeholders.
    public var template: [String]
    public var output: Output

    /// The placeholders a template may use.
    public static let placeholders = ["{prompt_file}", "{workdir}", "{model}", "{session}"]

    /// Creates the adapter.
    /// - Throws: ``RoleError`` `invalidRequest` when the template is empty or names an unknown
    ///   placeholder.
    public init(name: String = "command", template: [String], output: Output = .text) throws(RoleError) {
        guard let program = template.first, !program.isEmpty else {
            throw RoleError(.invalidRequest, "command: the argument template is empty (expected a program)")
        }
        for argument in template {
            var rest = Substring(argument)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                let placeholder = String(rest[open...close])
                guard Self.placeholders.contains(placeholder) else {
                    throw RoleError(
                        .invalidRequest,
                        "command: unknown placeholder \(placeholder) in \"\(argument)\" (expected one of "
                            + Self.placeholders.joined(separator: ", ") + ")")
                }
                rest = rest[rest.index(after: close)...]
            }
        }
        self.name = name
        self.template = template
        self.output = output
    }

    /// The command line for `request`, with the prompt in `promptFile`.
    public func arguments(for request: AgentRequest, promptFile: String) -> [String] {
        let values = [
            "{prompt_file}": promptFile, "{workdir}": request.directory, "{model}": request.model ?? "",
            "{session}": request.resumeSession ?? "",
        ]
        return template.compactMap { argument in
            if let value = values[argument], value.isEmpty { return nil }
            var result = argument
            for (placeholder, value) in values { result = result.replacingOccurrences(of: placeholder, with: value) }
            return result
        }
    }

    public func run(_ request: AgentRequest) async throws(RoleError) -> AgentResult {
        let promptFile = try AgentReply.writePrompt(of: request)
        let output = try await AgentProcess.run(
            arguments(for: request, promptFile: promptFile), request: request,
            environment: AgentProcess.environment(for: request))
        return result(of: output, wantsJSON: request.wantsJSON)
    }

    /// Classifies a finished run of the command.
    public func result(of run: AgentProcess.Output, wantsJSON: Bool, now: Date = Timestamp.nowDate) -> AgentResult {
        let all = run.stdout + "\n" + run.stderr
        switch run.ending {
        case .timedOut: return AgentResult(outcome: .timeout)
        case .cancelled: return AgentResult(outcome: .error("the call was cancelled"))
        case .notStarted(let why): return AgentResult(outcome: .error(why))
        case .signaled(let signal):
            return AgentResult(outcome: .error("\(template[0]) was killed by signal \(signal)"))
        case .exited(let code) where code != 0:
            if output == .json, let reply = Self.parseJSON(run.stdout, now: now), case .failed = reply {
                return reply.result(wantsJSON: wantsJSON)
            }
            let tail = AgentReply.tail(run.stderr.isEmpty ? run.stdout : run.stderr)
            return AgentResult(
                outcome: AgentReply.limitOrAuth(in: all, now: now)
                    ?? .error("\(template[0]) exited \(code)" + (tail.isEmpty ? "" : ": \(tail)")))
        case .exited:
            switch output {
            case .text:
                // A limit is believed only when it is all the command said: a reply may speak of limits.
                if run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count <= 1,
                    let limit = AgentReply.limit(in: all, now: now)
                {
                    return AgentResult(outcome: limit)
                }
                return AgentReply.finish(reply: run.stdout, wantsJSON: wantsJSON, usage: AgentUsage(), session: nil)
            case .json:
                guard let reply = Self.parseJSON(run.stdout, now: now) else {
                    let shown = AgentReply.tail(run.stdout, count: 1)
                    return AgentResult(
                        outcome: .invalidOutput(
                            shown.isEmpty
                                ? "\(template[0]) printed nothing (expected a JSON object)"
                                : "\(template[0]) did not print a JSON object with a \"text\" string: \(shown.prefix(200))"
                        ))
                }
                return reply.result(wantsJSON: wantsJSON)
            }
        }
    }

    /// The command's JSON reply.
    public enum Reply: Sendable, Equatable {
        case replied(text: String, usage: AgentUsage, session: String?)
        case failed(AgentResult.Outcome, usage: AgentUsage, session: String?)

        func result(wantsJSON: Bool) -> AgentResult {
            switch self {
            case .replied(let text, let usage, let session):
                return AgentReply.finish(reply: text, wantsJSON: wantsJSON, usage: usage, session: session)
            case .failed(let outcome, let usage, let session):
                return AgentResult(outcome: outcome, usage: usage, session: session)
            }
        }
    }

    /// Reads the JSON form of the output (see ``CommandAdapter``), or `nil` when it is not there.
    public static func parseJSON(_ stdout: String, now: Date = Timestamp.nowDate) -> Reply? {
        let trimmed = stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let lastLine = trimmed.split(separator: "\n").last.map(String.init) ?? ""
        guard let object = ((try? JSONValue.parse(trimmed)) ?? (try? JSONValue.parse(lastLine)))?.objectValue else {
            return nil
        }
        let session = object["session"]?.stringValue
        var usage = AgentUsage()
        if let u = object["usage"]?.objectValue {
            usage.inputTokens = u["input"]?.intValue
            usage.outputTokens = u["output"]?.intValue
            usage.cacheReadTokens = u["cache_read"]?.intValue
            usage.cacheWriteTokens = u["cache_write"]?.intValue
            usage.reasoningTokens = u["reasoning"]?.intValue
            if case .number(let cost) = u["cost_usd"] {
                usage.costUSD = cost
                usage.costSource = .reported
            }
        }
        if let error = object["error"]?.objectValue {
            let message = error["message"]?.stringValue ?? "the command reported an error"
            let outcome: AgentResult.Outcome
            switch error["type"]?.stringValue {
            case "rate_limit":
                var until: Timestamp?
                if case .number(let seconds) = error["resets_at"] {
                    until = Timestamp(milliseconds: Int64(seconds * 1000))
                }
                if until == nil, case .rateLimited(let parsed, _) = AgentReply.limit(in: message, now: now) {
                    until = parsed
                }
                outcome = .rateLimited(until: until, message: message)
            case "auth": outcome = .auth(message)
            default: outcome = .error(message)
            }
            return .failed(outcome, usage: usage, session: session)
        }
        guard let text = object["text"]?.stringValue else { return nil }
        return .replied(text: text, usage: usage, session: session)
    }
}
