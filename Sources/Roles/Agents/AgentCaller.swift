import Bus
import Foundation

/// Runs a role's agent calls: picks the agent (the primary, or the fallback while the primary's
/// provider is rate-limited on the ``QuotaBoard``), keeps credentials off the bus, saves the
/// rendered prompt next to the transcript, estimates costs, and records limits for every role.
///
/// For one call it:
/// 1. skips each candidate agent whose provider the board says is limited;
/// 2. writes the prompt, redacted, to the transcript's path plus `.prompt.md`;
/// 3. runs the adapter with its output going to a private file outside the bus, copied line by
///    line, redacted, into the transcript on the bus while the agent runs (``TranscriptPump``);
/// 4. on `rate_limited`, records the limit on the board (until the reset the agent gave, else
///    ``AgentSettings/limitWait`` from now) and tries the next candidate;
/// 5. returns the result with its text and JSON redacted and its cost estimated from
///    ``AgentSettings/prices`` when the agent reported tokens but no cost.
///
/// When every candidate is limited, ``AgentCall/limitedUntil`` is the earliest reset: the role
/// hands its envelope back until then (`Disposition.defer`).
public struct AgentCaller: Sendable {
    public var settings: AgentSettings
    public var board: QuotaBoard
    /// The worker making the calls, recorded with the limits it hits.
    public var worker: String
    /// The environment the agents run with.
    public var environment: [String: String]
    /// Where each call's private output folder is made (and removed after the call).
    public var scratch: String = FileManager.default.temporaryDirectory.path

    public init(
        settings: AgentSettings, layout: BusLayout, worker: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.settings = settings
        self.board = QuotaBoard(layout: layout)
        self.worker = worker
        self.environment = environment
    }

    /// True when the role drives an agent.
    public var isEnabled: Bool { settings.primary != nil }

    /// The redactor for what the role's own commands print (build steps, gates): the
    /// secret-looking values of ``environment`` and the values of every configured key variable.
    public var redactor: Redactor { Redactor(environment: environment, keys: keyVariables) }

    /// The variables holding API keys: those of the role's agents (their `api_key_env`) and those
    /// of every other agent of the configuration (``AgentSettings/keyVariables``), so that a role
    /// hides a key it was given in its environment even when another role's agent uses it.
    public var keyVariables: [String] {
        var names = [settings.primary, settings.fallback, settings.reviewer].compactMap { $0?.apiKeyEnv }
        for name in settings.keyVariables where !names.contains(name) { names.append(name) }
        return names.filter { !$0.isEmpty }
    }

    /// One call.
    /// - Parameters:
    ///   - profile: the agent to use instead of the role's primary and fallback (a reviewer).
    ///   - transcript: the transcript file on the bus (appended to).
    /// - Throws: ``RoleError`` when no agent is configured, an adapter cannot be made from its
    ///   settings, or a file cannot be written.
    public func call(
        role: String, prompt: String, directory: String, transcript: String, scope: [String] = [],
        timeout: Duration, resumeSession: String? = nil, wantsJSON: Bool = false, profile: AgentProfile? = nil
    ) async throws(RoleError) -> AgentCall {
        let candidates = profile.map { [$0] } ?? [settings.primary, settings.fallback].compactMap { $0 }
        guard !candidates.isEmpty else {
            throw RoleError(.invalidRequest, "role \(role) drives no agent")
        }
        // The keys the agents are given are hidden whatever their variables are called.
        let keyVariables =
            self.keyVariables + ([profile] + candidates).compactMap { $0?.apiKeyEnv }.filter { !$0.isEmpty }
        let redactor = Redactor(environment: environment, keys: keyVariables)
        var limits: [String] = []
        var earliest: Timestamp?
        var last: AgentResult?
        for (index, candidate) in candidates.enumerated() {
            if let limit = board.limit(of: candidate.provider) {
                limits.append("\(candidate.label): limited until \(limit.until) (\(limit.message))")
                earliest = min(earliest ?? limit.until, limit.until)
                continue
            }
            if index > 0 {
                TranscriptPump.append(
                    "# \(Timestamp.now()) using the fallback \(candidate.label): \(limits.joined(separator: "; "))\n",
                    to: transcript)
            }
            let adapter = try AgentCatalog.adapter(for: candidate)
            var result = try await run(
                adapter,
                AgentRequest(
                    role: role, prompt: prompt, directory: directory, scope: scope, model: candidate.model,
                    timeout: timeout, resumeSession: index == 0 ? resumeSession : nil, wantsJSON: wantsJSON,
                    transcript: transcript, environment: environment),
                redactor: redactor)
            result.usage = settings.prices.estimate(result.usage, model: candidate.model)
            if case .rateLimited(let until, let message) = result.outcome {
                // No reset time, or one already past (a stale message): wait limitWait.
                let soonest = Timestamp(
                    milliseconds: Timestamp.now().milliseconds + CheckText.milliseconds(settings.limitWait))
                let reset = until.flatMap { Timestamp.now() < $0 ? $0 : nil } ?? soonest
                try board.record(
                    QuotaBoard.Limit(
                        provider: candidate.provider, until: reset, message: message, by: worker, at: .now()))
                limits.append("\(candidate.label): limited until \(reset) (\(message))")
                earliest = min(earliest ?? reset, reset)
                last = result
                TranscriptPump.append(
                    "# \(Timestamp.now()) \(candidate.label) is limited until \(reset)\n", to: transcript)
                continue
            }
            return AgentCall(result: result, profile: candidate, role: role, limits: limits)
        }
        let until = earliest ?? .now()
        return AgentCall(
            result: last ?? AgentResult(outcome: .rateLimited(until: until, message: limits.joined(separator: "; "))),
            profile: nil, role: role, limitedUntil: until, limits: limits)
    }

    /// Runs `request` with its output in a private folder, pumped redacted to the bus.
    private func run(_ adapter: any AgentAdapter, _ request: AgentRequest, redactor: Redactor) async throws(RoleError)
        -> AgentResult
    {
        let busTranscript = request.transcript
        let folder = scratch + "/planbus-call-" + FileOps.randomHex(8)
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RoleError(.io, "cannot create \(folder): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let busFolder = (busTranscript as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: busFolder, withIntermediateDirectories: true)
        try AgentReply.write(redactor.redact(request.prompt), to: busTranscript + ".prompt.md")
        var privateRequest = request
        privateRequest.transcript = folder + "/transcript"
        let out = TranscriptPump(from: privateRequest.transcript, to: busTranscript, redactor: redactor)
        let err = TranscriptPump(
            from: AgentProcess.stderrPath(forTranscript: privateRequest.transcript),
            to: AgentProcess.stderrPath(forTranscript: busTranscript), redactor: redactor)
        var result = try await out.whilePumping { () throws(RoleError) -> AgentResult in
            try await err.whilePumping { () throws(RoleError) -> AgentResult in try await adapter.run(privateRequest) }
        }
        result.text = redactor.redact(result.text)
        result.json = result.json.map(redactor.redact)
        result.outcome = redacted(result.outcome, redactor)
        return result
    }

    private func redacted(_ outcome: AgentResult.Outcome, _ r: Redactor) -> AgentResult.Outcome {
        switch outcome {
        case .error(let m): return .error(r.redact(m))
        case .auth(let m): return .auth(r.redact(m))
        case .invalidOutput(let m): return .invalidOutput(r.redact(m))
        case .rateLimited(let until, let m): return .rateLimited(until: until, message: r.redact(m))
        case .ok, .timeout: return outcome
        }
    }
}
