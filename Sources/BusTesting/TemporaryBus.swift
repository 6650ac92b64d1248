import Bus
import Foundation

/// A bus in a fresh temporary directory, removed when the value is released.
public final class TemporaryBus: Sendable {
    /// The opened bus.
    public let bus: Bus
    /// The temporary directory holding the bus at `root/bus`.
    public let root: String

    /// Creates a bus with `settings` and queues for `roles`.
    public init(settings: BusSettings = .testing, roles: [String] = ["work"]) throws {
        let base = FileManager.default.temporaryDirectory.path + "/planbus-test-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        root = base
        bus = try Bus.create(at: base + "/bus", settings: settings, roles: roles).bus
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The bus directory.
    public var path: String { bus.layout.root }
}

extension BusSettings {
    /// Fast settings for tests: non-durable, short heartbeats and lease, quick retries.
    public static var testing: BusSettings {
        var s = BusSettings()
        s.durable = false
        s.heartbeatMs = 100
        s.leaseMs = 1_000
        s.retryBaseMs = 50
        s.retryCapMs = 200
        s.janitorMs = 100
        s.pollMs = 50
        return s
    }
}
