import Bus
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One POST of a JSON body to an agent API, tried again by an ``HTTPRetryPolicy`` within one
/// overall deadline, every attempt written to the transcript. Shared by the HTTP adapters.
struct HTTPAgentCall: Sendable {
    /// How the call ended: the last response (success or not), the deadline, or no connection.
    enum End: Sendable {
        case response(HTTPExchange)
        case timedOut
        case failed(String)
    }

    var url: URL
    var headers: [String: String]
    var body: JSONValue
    var policy: HTTPRetryPolicy
    var timeout: Duration
    var transcript: HTTPTranscript

    /// Sends the body, retrying what the policy retries as long as the wait ends before the deadline.
    /// - Throws: ``RoleError`` `io` when the transcript cannot be written.
    func perform() async throws(RoleError) -> End {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let payload = body.serialized()
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = Data(payload.utf8)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        var retries = 0
        while true {
            let remaining = deadline - clock.now
            guard remaining > .zero else {
                try transcript.append("! timed out")
                return .timedOut
            }
            try transcript.append(
                "> POST \(url.absoluteString) (attempt \(retries + 1))\n\(HTTPTranscript.headerLines(headers))\n\n\(payload)"
            )
            let outcome = await HTTPTransport.send(request, timeout: remaining)
            let responseHeaders: [String: String]
            let last: End
            switch outcome {
            case .failure(.timedOut):
                try transcript.append("! timed out")
                return .timedOut
            case .failure(.failed(let message)):
                try transcript.append("! connection failed: \(message)")
                responseHeaders = [:]
                last = .failed(message)
            case .success(let exchange):
                try transcript.append(
                    "< \(exchange.status)\n\(HTTPTranscript.headerLines(exchange.headers))\n\n"
                        + String(decoding: exchange.body, as: UTF8.self))
                if (200..<300).contains(exchange.status) { return .response(exchange) }
                let code = Self.errorCode(exchange.body)
                guard policy.isRetryable(status: exchange.status, headers: exchange.headers, errorCode: code) else {
                    return .response(exchange)
                }
                responseHeaders = exchange.headers
                last = .response(exchange)
            }
            guard retries < policy.maxRetries else { return last }
            let wait = policy.delay(retriesSoFar: retries, headers: responseHeaders)
            guard clock.now + wait < deadline else { return last }
            try transcript.append("! retrying in \(wait)")
            try? await Task.sleep(for: wait)
            retries += 1
        }
    }

    /// The body's `error.code`, else `error.type` (OpenAI and Anthropic error shapes).
    static func errorCode(_ body: Data) -> String? {
        guard let json = try? JSONValue.parse([UInt8](body)), let error = json["error"] else { return nil }
        return error["code"]?.stringValue ?? error["type"]?.stringValue
    }

    /// The body's `error.message`, else its text (shortened).
    static func errorMessage(_ body: Data) -> String {
        if let json = try? JSONValue.parse([UInt8](body)), let message = json["error"]?["message"]?.stringValue {
            return message
        }
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.count > 500 ? String(text.prefix(500)) + "…" : text
    }

    /// The outcome of a call that got no usable answer: a deadline, no connection, or an HTTP
    /// error status (401/403 → auth; 429 → rate limited until the headers' reset; else error).
    static func failure(_ end: End) -> AgentResult.Outcome {
        switch end {
        case .timedOut: return .timeout
        case .failed(let message): return .error("connection failed: \(message)")
        case .response(let exchange):
            let code = errorCode(exchange.body)
            let detail = [code, errorMessage(exchange.body)].compactMap { $0 }.filter { !$0.isEmpty }
            let message = "HTTP \(exchange.status)" + (detail.isEmpty ? "" : ": " + detail.joined(separator: ": "))
            switch exchange.status {
            case 401, 403: return .auth(message)
            case 429: return .rateLimited(until: HTTPRetryPolicy.resetTime(headers: exchange.headers), message: message)
            default: return .error(message)
            }
        }
    }

    /// Makes one call of an HTTP adapter for `request`: POSTs `body` to `url` under `policy`, the
    /// transcript hiding `secrets`, and reads a 2xx body with `interpret` (given the body and
    /// whether JSON was asked for); any other end is ``failure(_:)``.
    static func run(
        _ request: AgentRequest, url: URL, headers: [String: String], body: JSONValue, policy: HTTPRetryPolicy,
        secrets: [String], interpret: (Data, Bool) -> AgentResult
    ) async throws(RoleError) -> AgentResult {
        let call = HTTPAgentCall(
            url: url, headers: headers, body: body, policy: policy, timeout: request.timeout,
            transcript: HTTPTranscript(path: request.transcript, secrets: secrets))
        let end = try await call.perform()
        guard case .response(let exchange) = end, (200..<300).contains(exchange.status) else {
            return AgentResult(outcome: failure(end))
        }
        return interpret(exchange.body, request.wantsJSON)
    }

    /// The result when neither the request nor the adapter names a model.
    static let noModel = AgentResult(
        outcome: .error("no model: the request names none and the adapter has no default"))

    /// A response body as a JSON object, or `nil` when it is not one.
    static func object(_ body: Data) -> JSONValue? {
        guard let json = try? JSONValue.parse([UInt8](body)), json.objectValue != nil else { return nil }
        return json
    }

    /// The result of an answer `text` the API gave: an empty answer is invalid output, and so is
    /// one that is not JSON when JSON was asked for.
    static func answer(_ text: String, wantsJSON: Bool, usage: AgentUsage) -> AgentResult {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return AgentResult(outcome: .invalidOutput("empty result"), usage: usage)
        }
        guard wantsJSON else { return AgentResult(outcome: .ok, text: text, usage: usage) }
        guard let parsed = jsonAnswer(text) else {
            return AgentResult(outcome: .invalidOutput("the answer is not JSON"), text: text, usage: usage)
        }
        return AgentResult(outcome: .ok, text: text, json: parsed, usage: usage)
    }

    /// The final text read as JSON, allowing a fenced ```json block around it.
    static func jsonAnswer(_ text: String) -> JSONValue? {
        var trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("```"), trimmed.hasSuffix("```"), trimmed.count >= 6 {
            trimmed = String(trimmed.dropFirst(3).dropLast(3))
            if let newline = trimmed.firstIndex(of: "\n") {
                trimmed = String(trimmed[trimmed.index(after: newline)...])
            }
        }
        return try? JSONValue.parse(trimmed)
    }

    /// The API key named by `variable`, from the request's environment, else this process's.
    static func apiKey(_ variable: String, environment: [String: String]) -> String? {
        let value = environment[variable] ?? ProcessInfo.processInfo.environment[variable]
        return value.flatMap { $0.isEmpty ? nil : $0 }
    }
}
