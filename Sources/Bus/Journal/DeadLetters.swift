/// Reads `dead/` folders: each dead entry `X` has its reason in `X.reason.json`.
public enum DeadLetters {
    /// One dead-lettered file.
    public struct Item: Sendable, Equatable {
        public var role: String
        public var file: String
        public var reason: [String: JSONValue]
    }

    /// The reason record of `dead/<file>` in `role`'s queue.
    public static func reason(layout: BusLayout, role: String, file: String) -> [String: JSONValue]? {
        guard case .bytes(let b) = FileOps.readRegular(layout.dead(role) + "/" + file + ".reason.json", limit: 1 << 20)
        else { return nil }
        return (try? JSONValue.parse(b))?.objectValue
    }

    /// Every dead-lettered file of `role`, with its reason (an empty record when it has none).
    public static func items(layout: BusLayout, role: String) -> [Item] {
        let names = (try? FileOps.list(layout.dead(role))) ?? []
        return names.filter { !$0.hasSuffix(".reason.json") && !$0.hasPrefix(".") }.sorted().map {
            Item(role: role, file: $0, reason: reason(layout: layout, role: role, file: $0) ?? [:])
        }
    }
}
