import Bus
import Foundation

/// What an attempt's transcript (`builder.log`) says about an earlier holder of the same `build`
/// envelope: the part it wrote and the agent session its call had started.
///
/// Each agent call of the builder starts with a header line naming the envelope and the claim's
/// epoch (``header(time:attempt:task:worker:envelope:epoch:)``) and ends with a line giving its
/// outcome (``ended(time:outcome:)``). A holder at a higher epoch took the envelope over from one
/// that died: the lines after the last header of an earlier epoch are that holder's transcript,
/// and without the closing line its call was cut off. Stream-mode CLIs print their session early,
/// so it is there even when the call never ended: `session_id` (Claude Code's `system` init,
/// Gemini's `init`, cursor-agent's `system` init, and their results), `thread_id` (Codex's
/// `thread.started`), or `session` (a `command` agent's JSON answer).
public struct AgentSessionProbe: Sendable, Equatable {
    /// The transcript lines the earlier holder wrote, from its header on.
    public var lines: [String]
    /// The epoch of the earlier holder.
    public var epoch: Int
    /// The vendor session its call started, if the transcript names one.
    public var session: String?
    /// True when its call ended (``ended(time:outcome:)`` is among the lines): the holder died
    /// after the call, or handed the envelope back (a rate limit), rather than during it.
    public var ended: Bool

    /// The header line written before each call.
    public static func header(
        time: Timestamp, attempt: Int, task: String, worker: String, envelope: String, epoch: Int
    ) -> String {
        "# \(time) attempt \(attempt) of \(task) by \(worker) (envelope \(envelope), epoch \(epoch))"
    }

    /// The line written when a call ends.
    public static func ended(time: Timestamp, outcome: String) -> String {
        "# \(time)\(endMarker)\(outcome)"
    }

    static let endMarker = " agent call ended: "

    /// Reads the transcript `text` for the part an earlier holder (an epoch below `epoch`) of
    /// `envelope` wrote.
    /// - Returns: `nil` when no earlier holder of the envelope wrote to it.
    public init?(transcript text: String, envelope: String, epoch: Int) {
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let marker = "(envelope \(envelope), epoch "
        var start: (index: Int, epoch: Int)?
        var end = all.count
        for (index, line) in all.enumerated() where line.hasPrefix("# ") {
            guard let range = line.range(of: marker, options: .backwards),
                let found = Int(line[range.upperBound...].prefix { $0.isNumber })
            else { continue }
            if found < epoch {
                start = (index, found)
                end = all.count
            } else if start != nil, end == all.count {
                end = index
            }
        }
        guard let start else { return nil }
        var lines = Array(all[start.index..<end])
        while lines.last?.isEmpty == true { lines.removeLast() }
        self.lines = lines
        self.epoch = start.epoch
        self.session = Self.session(in: lines)
        self.ended = lines.contains { $0.hasPrefix("# ") && $0.contains(Self.endMarker) }
    }

    /// The last session id the lines name.
    static func session(in lines: [String]) -> String? {
        var found: String?
        for line in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("{"), let event = try? JSONValue.parse(trimmed), event.objectValue != nil
            else { continue }
            let id =
                event["session_id"]?.stringValue ?? event["thread_id"]?.stringValue ?? event["sessionId"]?.stringValue
                ?? event["session"]?.stringValue
            if let id, !id.isEmpty { found = id }
        }
        return found
    }

    /// The last `count` lines, for a prompt.
    public func tail(_ count: Int = 40) -> String {
        lines.suffix(count).joined(separator: "\n")
    }
}
