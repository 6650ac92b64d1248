import Bus

/// The step time of one build, read from its `builder.log`.
///
/// The builder writes a line `# <time> attempt N of TASK by WORKER` just before it starts the step
/// and `# <time> step ended: …` just after the step exits, both with millisecond RFC 3339 times;
/// the step's own output lies between them.
public enum RunStepLog {
    /// Seconds from the `attempt` line to the `step ended` line of the last attempt in `text`, or
    /// `nil` when either line is missing.
    public static func stepSeconds(_ text: String) -> Double? {
        var started: Timestamp?
        var ended: Timestamp?
        for line in text.split(separator: "\n") where line.hasPrefix("# ") {
            let fields = line.split(separator: " ", maxSplits: 3)
            guard fields.count >= 3, let time = Timestamp(rfc3339: String(fields[1])) else { continue }
            if fields[2] == "attempt" {
                started = time
                ended = nil
            } else if fields[2] == "step", line.contains(" step ended") {
                ended = time
            }
        }
        guard let started, let ended, ended >= started else { return nil }
        return Double(ended.milliseconds - started.milliseconds) / 1000
    }
}
