import Bus
import FileFormats

/// The verifier's verdict on one attempt: the gates it ran and every reason to reject the change.
///
/// The change is approved only when every gate passed and no check found anything. ``findings``
/// holds the failed gates' findings first, then the other checks' findings, in the order given.
public struct Verification: Sendable, Equatable {
    /// The gates that ran, in order.
    public var gates: [GateResult]
    /// Every reason to reject the change: the failed gates', then the other checks'.
    public var findings: [Finding]

    /// Gathers a verdict.
    ///
    /// - Parameters:
    ///   - gates: The gate results, in the order the gates ran.
    ///   - findings: The findings of the other checks (scope, budget, secrets); the failed gates'
    ///     findings are added before them.
    public init(gates: [GateResult], findings: [Finding]) {
        self.gates = gates
        self.findings = gates.flatMap(\.findings) + findings
    }

    /// True when every gate passed and nothing was found.
    public var approved: Bool { findings.isEmpty && gates.allSatisfy(\.passed) }

    /// The text a builder's next attempt gets: a summary line, each finding on a line of its own,
    /// then the last lines of each failed gate's log (its ``GateResult/logTail``,
    /// at most ``GateRunner/tailLines``).
    public var feedback: String {
        if approved {
            return gates.isEmpty
                ? "Approved: no check found a problem.\n"
                : "Approved: \(CheckText.count(gates.count, "gate")) passed and no check found a problem.\n"
        }
        var text = "Rejected: \(CheckText.count(findings.count, "problem")).\n"
        for finding in findings {
            text += "- " + finding.line + (finding.evidence.map { " (log: \($0))" } ?? "") + "\n"
        }
        for gate in gates where !gate.passed && !gate.logTail.isEmpty {
            text += "\nThe last \(CheckText.count(gate.logTail.count, "line")) of the log of gate "
            text += "\(QuotedText.quoted(gate.name)) (\(gate.log)):\n"
            for line in gate.logTail { text += "    " + line + "\n" }
        }
        return text
    }

    /// The verdict as the verifier publishes it: `verdict` (`approved` or `rejected`),
    /// `approved`, `findings` (see ``Finding/json``), `gates` (see ``GateResult/json``) and
    /// `feedback` (see ``feedback``).
    public var json: JSONValue {
        .object([
            "verdict": .string(approved ? "approved" : "rejected"),
            "approved": .bool(approved),
            "findings": .array(findings.map(\.json)),
            "gates": .array(gates.map(\.json)),
            "feedback": .string(feedback),
        ])
    }
}
