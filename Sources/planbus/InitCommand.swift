import ArgumentParser
import Bus

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a bus directory (or check the one already there).",
        discussion: """
            Creates VERSION, bus.json and the folders of docs/PROTOCOL.md, with a queue for each \
            product role. Running it again on a bus of the same version changes nothing. It refuses \
            a directory that holds anything else, or a bus of another protocol version.
            """
    )

    @Argument(help: "The bus directory (default: $PLANBUS_BUS, else ./bus).")
    var directory: String?

    @Flag(help: "Create the bus non-durable (no fsync): faster, but a power loss may lose envelopes.")
    var nonDurable = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let path = directory ?? BusOptions().path
            var settings = BusSettings()
            if nonDurable { settings.durable = false }
            let (bus, created) = try Bus.create(at: path, settings: settings)
            if json {
                let out: JSONValue = [
                    "bus": .string(bus.layout.root), "created": .bool(created), "version": 1,
                    "settings": bus.settings.json,
                ]
                emit(out.serialized())
            } else {
                emit(
                    created
                        ? "created bus \(bus.layout.root) (protocol v1)"
                        : "bus \(bus.layout.root) is already a v1 bus; nothing changed")
            }
        }
    }
}
