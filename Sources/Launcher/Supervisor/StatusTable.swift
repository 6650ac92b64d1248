import Foundation

/// The live status table `planbus up` draws on a terminal.
public enum StatusTable {
    /// One instance's line.
    public struct Row: Sendable, Equatable {
        public var role: String
        public var instance: Int
        public var pid: Int32?
        /// The supervisor's phase (`running`, `hung`, `backoff`, `failed`…).
        public var state: String
        /// The heartbeat's own state (`idle`, `working`, `backoff until <T>`…, see
        /// ``Heartbeat/stateText``), once seen.
        public var worker: String?
        /// The envelope the instance holds, if any.
        public var envelope: String?
        /// Time since the heartbeat last changed, on the supervisor's clock.
        public var heartbeatAge: Duration?
        public var restarts: Int

        public init(
            role: String, instance: Int, pid: Int32?, state: String, worker: String?, envelope: String?,
            heartbeatAge: Duration?, restarts: Int
        ) {
            self.role = role
            self.instance = instance
            self.pid = pid
            self.state = state
            self.worker = worker
            self.envelope = envelope
            self.heartbeatAge = heartbeatAge
            self.restarts = restarts
        }
    }

    /// The table as text, preceded by the escape codes that clear the screen.
    /// - Parameter problem: what is wrong with the bus folder as a whole, and what to do, shown
    ///   under the table while it lasts.
    public static func render(rows: [Row], bus: String, stopping: Bool, problem: String? = nil) -> String {
        let header = ["ROLE", "INST", "PID", "STATE", "ENVELOPE", "HB AGE", "RESTARTS"]
        let cells = rows.map { row -> [String] in
            let state = row.worker.map { row.state == "running" ? $0 : "\(row.state)/\($0)" } ?? row.state
            return [
                row.role, "\(row.instance)", row.pid.map { "\($0)" } ?? "-", state, row.envelope ?? "-",
                row.heartbeatAge.map { String(format: "%.1fs", Double($0.milliseconds) / 1_000) } ?? "-",
                "\(row.restarts)",
            ]
        }
        let table = TextTable.format([header] + cells)
        let footer =
            stopping
            ? "stopping: waiting for every role to finish or release its envelope"
            : "bus \(bus) · Ctrl-C stops every role gracefully · planbus ps --json for scripts"
        let warning = problem.map { "\n\nBUS UNAVAILABLE: " + $0 } ?? ""
        return "\u{1B}[H\u{1B}[2J" + table + warning + "\n\n" + footer
    }
}

/// Left-aligned columns separated by two spaces.
public enum TextTable {
    public static func format(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
