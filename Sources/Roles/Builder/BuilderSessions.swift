import Bus
import Foundation

/// The agent sessions of one task's builds: `runs/<run>/<task>/sessions.json`, a JSON array with
/// one object per agent call, oldest first: `attempt`, `candidate`, `epoch`, `agent`, `model`,
/// `session` (the vendor's session or thread id, `null` when the agent named none), `outcome`
/// and `at`.
///
/// Each call adds its entry by rewriting the file atomically; entries are never changed.
public struct BuilderSessions: Sendable {
    /// The file.
    public var path: String

    /// The file of `task` in `run`.
    public init(layout: BusLayout, run: String, task: String) {
        path = layout.run(run) + "/\(task)/sessions.json"
    }

    /// The entries, oldest first (none when the file is missing or unreadable).
    public func entries() -> [JSONValue] {
        guard let data = FileManager.default.contents(atPath: path),
            let value = try? JSONValue.parse(Array(data))
        else { return [] }
        return value.arrayValue ?? []
    }

    /// Adds `entry` at the end.
    /// - Throws: ``RoleError`` `io` when the file cannot be written.
    public func append(_ entry: JSONValue) throws(RoleError) {
        let text = JSONValue.array(entries() + [entry]).serialized() + "\n"
        let temporary = path + ".\(FileOps.randomHex(6)).tmp"
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, path) != 0 {
                throw CocoaError(.fileWriteUnknown)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw RoleError(.io, "cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// One call's entry.
    public static func entry(
        attempt: Int, candidate: Int, epoch: Int, agent: String?, model: String?, session: String?, outcome: String,
        at: Timestamp = .now()
    ) -> JSONValue {
        [
            "attempt": .number(Double(attempt)), "candidate": .number(Double(candidate)),
            "epoch": .number(Double(epoch)), "agent": agent.map(JSONValue.string) ?? .null,
            "model": model.map(JSONValue.string) ?? .null, "session": session.map(JSONValue.string) ?? .null,
            "outcome": .string(outcome), "at": .string(at.description),
        ]
    }
}
