/// Reads runs' journals: `runs/<run>/journal/*.jsonl`.
///
/// Reading one run touches only that run's folder, however much else the bus holds. A torn last
/// line (a writer died mid-append) is skipped.
public struct JournalReader: Sendable {
    let layout: BusLayout

    /// A reader for the bus at `layout`.
    public init(layout: BusLayout) {
        self.layout = layout
    }

    /// The runs that have a journal, sorted.
    public func runs() -> [String] {
        ((try? FileOps.list(layout.runs)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Every event of `run`, from every worker's file.
    public func events(run: String) -> [JournalEvent] {
        var offsets: [String: Int] = [:]
        return newEvents(run: run, offsets: &offsets)
    }

    /// Events appended since `offsets` (per file byte offsets), which are advanced. Only whole lines
    /// are consumed.
    public func newEvents(run: String, offsets: inout [String: Int]) -> [JournalEvent] {
        let dir = layout.journal(run)
        guard let files = try? FileOps.list(dir) else { return [] }
        var out: [JournalEvent] = []
        for file in files.sorted() where file.hasSuffix(".jsonl") {
            let start = offsets[file] ?? 0
            guard let bytes = FileOps.readTail(dir + "/" + file, from: start), !bytes.isEmpty else { continue }
            var lineStart = 0
            var index = 0
            while index < bytes.count {
                if bytes[index] == 0x0A {
                    if index > lineStart, let value = try? JSONValue.parse(Array(bytes[lineStart..<index])),
                        let event = JournalEvent(json: value)
                    {
                        out.append(event)
                    }
                    lineStart = index + 1
                }
                index += 1
            }
            offsets[file] = start + lineStart
        }
        return out
    }
}
