import Bus

/// When each task of a run was first and last seen in the run's journal: the first envelope about
/// it sent or taken, and the last thing that happened to one.
public struct TaskTimes: Sendable {
    /// The first and last journal times of each task, by task id.
    public var spans: [String: (first: Timestamp, last: Timestamp)]

    /// Reads the run's journal.
    public init(run: String, layout: BusLayout) {
        var spans: [String: (first: Timestamp, last: Timestamp)] = [:]
        for event in JournalReader(layout: layout).events(run: run) {
            guard let task = event.task else { continue }
            var span = spans[task] ?? (event.time, event.time)
            if event.time.milliseconds < span.first.milliseconds { span.first = event.time }
            if event.time.milliseconds > span.last.milliseconds { span.last = event.time }
            spans[task] = span
        }
        self.spans = spans
    }

    /// How long the task took: to its last event when it is settled, else until `now`.
    public func elapsed(_ task: String, settled: Bool, now: Timestamp = .now()) -> Duration? {
        guard let span = spans[task] else { return nil }
        let end = settled ? span.last : now
        return .milliseconds(max(0, end.milliseconds - span.first.milliseconds))
    }

    /// `elapsed` for people: `850 ms`, `12.3 s`, `4m05s`.
    public static func format(_ duration: Duration?) -> String {
        guard let duration else { return "-" }
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 { return "\(ms / 1000).\(ms % 1000 / 100) s" }
        let seconds = ms / 1000
        return "\(seconds / 60)m" + (seconds % 60 < 10 ? "0" : "") + "\(seconds % 60)s"
    }
}
