import Bus
import Foundation

/// Shared rate-limit state on the bus: `quota/<provider>.json`, one file per provider, written by
/// whichever role hit the limit and read by every role before it calls an agent of that provider.
///
/// A file says `{"provider", "until", "message", "by", "at"}`: the provider is limited until
/// `until` (RFC 3339). Roles on any host sharing the bus see it, so one role's limit makes the
/// others wait (or use their fallback) instead of hitting it again. A file whose `until` has
/// passed means nothing; a later limit replaces the file (atomically).
public struct QuotaBoard: Sendable {
    /// A provider's limit.
    public struct Limit: Sendable, Equatable {
        public var provider: String
        public var until: Timestamp
        public var message: String
        /// The worker that hit it.
        public var by: String
        /// When it was hit.
        public var at: Timestamp

        public init(provider: String, until: Timestamp, message: String, by: String, at: Timestamp) {
            self.provider = provider
            self.until = until
            self.message = message
            self.by = by
            self.at = at
        }

        public var json: JSONValue {
            [
                "provider": .string(provider), "until": .string(until.description), "message": .string(message),
                "by": .string(by), "at": .string(at.description),
            ]
        }
    }

    /// The bus.
    public var layout: BusLayout

    public init(layout: BusLayout) {
        self.layout = layout
    }

    /// `quota/` in the bus.
    public var folder: String { layout.root + "/quota" }

    /// The file of `provider`.
    public func file(_ provider: String) -> String { folder + "/" + provider + ".json" }

    /// The limit of `provider` that still holds at `now`, if any.
    public func limit(of provider: String, now: Timestamp = .now()) -> Limit? {
        guard let data = FileManager.default.contents(atPath: file(provider)),
            let json = try? JSONValue.parse(Array(data)), let untilText = json["until"]?.stringValue,
            let until = Timestamp(rfc3339: untilText), now < until
        else { return nil }
        return Limit(
            provider: provider, until: until, message: json["message"]?.stringValue ?? "",
            by: json["by"]?.stringValue ?? "", at: json["at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) ?? now)
    }

    /// Every limit that still holds at `now`.
    public func limits(now: Timestamp = .now()) -> [Limit] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
            .compactMap { limit(of: String($0.dropLast(5)), now: now) }
    }

    /// Records that `provider` is limited until `until`. A limit already recorded that ends later
    /// is kept.
    /// - Throws: ``RoleError`` `io` when the file cannot be written.
    public func record(_ limit: Limit) throws(RoleError) {
        if let current = self.limit(of: limit.provider), limit.until < current.until { return }
        do {
            try FileOps.makeDirectories(folder, mode: Bus.directoryMode)
            try FileOps.writeAtomically(
                Array((limit.json.serialized() + "\n").utf8), to: file(limit.provider), stagingDirectory: layout.tmp,
                mode: Bus.fileMode, durable: false)
        } catch {
            throw RoleError(.io, "cannot record the limit of \(limit.provider): \(error.message)")
        }
    }
}
