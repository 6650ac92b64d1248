import Bus
import FileFormats

/// What running one gate came to: how its command ended, how long it took, where its output is,
/// and what it changed in the work tree.
///
/// A gate passes only when its command started, exited with status 0 within its timeout, and left
/// every path its `protects` globs match unchanged (and that could be checked). Anything else is a
/// failure, with a reason in ``failures``. Paths the gate changed outside `protects` do not fail
/// it; they are listed in ``otherChanges``.
public struct GateResult: Sendable, Equatable {
    /// How the gate's command ended.
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// It was killed by this signal (not by the runner).
        case signaled(Int32)
        /// It ran longer than this timeout and was killed with its process group.
        case timedOut(Duration)
        /// It could not be started (such as a missing program); the reason.
        case notStarted(String)
        /// The verification was cancelled while it ran; it was killed.
        case cancelled

        public var description: String {
            switch self {
            case .exited(let status): return "exit \(status)"
            case .signaled(let signal): return "killed by signal \(signal)"
            case .timedOut(let limit): return "timed out after \(DurationText.format(limit))"
            case .notStarted(let reason): return "not started: \(reason)"
            case .cancelled: return "cancelled"
            }
        }
    }

    /// The gate's name.
    public var name: String
    /// The command, as one shell line.
    public var command: String
    /// How the command ended.
    public var outcome: Outcome
    /// How long the command ran (zero when it did not start).
    public var duration: Duration
    /// The evidence log: the command line, its combined output and how it ended.
    public var log: String
    /// The gate's `protects` globs.
    public var protects: [String]
    /// Paths matching `protects` that the gate changed, sorted; any of them fails the gate.
    public var protectedChanges: [String]
    /// Other paths the gate changed, sorted; reported, not a failure.
    public var otherChanges: [String]
    /// Why the work tree could not be compared before and after the gate, if it could not; a
    /// failure when the gate protects any path.
    public var changeCheckError: String?
    /// The last lines of the log (at most ``GateRunner/tailLines``, each cut to 400 characters).
    public var logTail: [String]

    /// Creates a result; ``GateRunner`` makes them.
    public init(
        name: String, command: String, outcome: Outcome, duration: Duration, log: String, protects: [String] = [],
        protectedChanges: [String] = [], otherChanges: [String] = [], changeCheckError: String? = nil,
        logTail: [String] = []
    ) {
        self.name = name
        self.command = command
        self.outcome = outcome
        self.duration = duration
        self.log = log
        self.protects = protects
        self.protectedChanges = protectedChanges
        self.otherChanges = otherChanges
        self.changeCheckError = changeCheckError
        self.logTail = logTail
    }

    /// The command's exit status, or `nil` when it did not exit by itself (not started, killed,
    /// timed out).
    public var exitCode: Int32? {
        if case .exited(let status) = outcome { return status }
        return nil
    }

    /// True when the command was killed at its timeout.
    public var timedOut: Bool {
        if case .timedOut = outcome { return true }
        return false
    }

    /// True when the gate passed: no ``failures``.
    public var passed: Bool { failures.isEmpty }

    /// Why the gate failed, one sentence each; empty when it passed.
    public var failures: [String] {
        let gate = "gate \(QuotedText.quoted(name))"
        var reasons: [String] = []
        switch outcome {
        case .exited(0): break
        case .exited(let status): reasons.append("\(gate) failed: `\(command)` exited with status \(status)")
        case .signaled(let signal): reasons.append("\(gate) failed: `\(command)` was killed by signal \(signal)")
        case .timedOut(let limit):
            reasons.append(
                "\(gate) timed out: `\(command)` was still running after \(DurationText.format(limit)) and was killed")
        case .notStarted(let reason): reasons.append("\(gate) could not start `\(command)`: \(reason)")
        case .cancelled: reasons.append("\(gate) was cancelled before `\(command)` finished")
        }
        if !protectedChanges.isEmpty {
            reasons.append(
                "\(gate) changed protected paths: \(CheckText.list(protectedChanges)) (it must leave "
                    + "\(CheckText.list(protects)) unchanged)")
        }
        if let changeCheckError, !protects.isEmpty {
            reasons.append("\(gate): cannot tell whether it left its protected paths unchanged: \(changeCheckError)")
        }
        return reasons
    }

    /// One ``Finding`` per failure, with the log as evidence.
    public var findings: [Finding] {
        failures.map { Finding(.gate, $0, evidence: log) }
    }

    /// The JSON form, the gate's evidence in a verdict: `name`, `command`, `outcome` (text),
    /// `exit_code` and `signal` (numbers or null), `timed_out`, `duration_ms`, `log`, `passed`,
    /// `failures`, `protects`, `protected_changes` and `other_changes` (at most the first
    /// ``jsonPathLimit`` of each, with their full counts in `protected_changes_count` and
    /// `other_changes_count`), and `change_check_error` when there was one.
    public var json: JSONValue {
        var signal: JSONValue = .null
        if case .signaled(let number) = outcome { signal = .number(Double(number)) }
        var object: [String: JSONValue] = [
            "name": .string(name),
            "command": .string(command),
            "outcome": .string(outcome.description),
            "exit_code": exitCode.map { .number(Double($0)) } ?? .null,
            "signal": signal,
            "timed_out": .bool(timedOut),
            "duration_ms": .number(Double(CheckText.milliseconds(duration))),
            "log": .string(log),
            "passed": .bool(passed),
            "failures": .array(failures.map(JSONValue.string)),
            "protects": .array(protects.map(JSONValue.string)),
            "protected_changes": Self.json(protectedChanges),
            "other_changes": Self.json(otherChanges),
            "protected_changes_count": .number(Double(protectedChanges.count)),
            "other_changes_count": .number(Double(otherChanges.count)),
        ]
        if let changeCheckError { object["change_check_error"] = .string(changeCheckError) }
        return .object(object)
    }

    /// The most paths of each list ``json`` carries, so a verdict stays small.
    public static let jsonPathLimit = 100

    static func json(_ paths: [String]) -> JSONValue {
        .array(paths.prefix(jsonPathLimit).map(JSONValue.string))
    }
}
