import ArgumentParser
import Bus
import Foundation
import Launcher

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create planbus.yaml and the bus directory (or check the ones already there).",
        discussion: """
            Writes a commented planbus.yaml (every field at its default; docs/CONFIG.md describes \
            them) unless one exists or --no-config is given, then creates the bus: VERSION, \
            bus.json and the folders of docs/PROTOCOL.md, with a queue for each configured role. \
            Running it again changes nothing. It refuses a directory that holds anything else, or \
            a bus of another protocol version.
            """
    )

    @Argument(help: "The bus directory (default: $PLANBUS_BUS, else the configuration's bus, else ./bus).")
    var directory: String?

    @Option(help: "The configuration file to create or read (default: $PLANBUS_CONFIG, else ./planbus.yaml).")
    var config: String?

    @Flag(help: "Create only the bus, no configuration file.")
    var noConfig = false

    @Flag(help: "Create the bus non-durable (no fsync): faster, but a power loss may lose envelopes.")
    var nonDurable = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let cwd = FileManager.default.currentDirectoryPath
            let env = Foundation.ProcessInfo.processInfo.environment
            let configPath = absolute(
                config ?? env["PLANBUS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? "planbus.yaml", cwd)
            var configCreated = false
            var loaded: PlanbusConfig?
            if !noConfig {
                if FileManager.default.fileExists(atPath: configPath) {
                    loaded = try ConfigLoader.load(path: configPath)
                } else {
                    let folder = (configPath as NSString).deletingLastPathComponent
                    let busPath = directory ?? env["PLANBUS_BUS"].flatMap { $0.isEmpty ? nil : $0 } ?? "bus"
                    let text = ConfigTemplate.text(bus: relative(absolute(busPath, cwd), to: folder))
                    do {
                        try Data(text.utf8).write(to: URL(fileURLWithPath: configPath), options: .withoutOverwriting)
                    } catch {
                        throw CLIFailure("cannot write \(configPath): \(error.localizedDescription)", code: 1)
                    }
                    configCreated = true
                    loaded = try ConfigLoader.load(path: configPath)
                }
            }
            let locator = ConfigLocator(config: noConfig ? nil : configPath, bus: directory)
            let path = noConfig ? (locator.overridingBus ?? "bus") : try locator.busPath()
            var settings = loaded?.busSettings.applied(to: BusSettings()) ?? BusSettings()
            if nonDurable { settings.durable = false }
            let roles = Array(Set(Bus.productRoles + (loaded?.roles.map(\.name) ?? []))).sorted()
            let (bus, created) = try Bus.create(at: path, settings: settings, roles: roles)
            if json {
                let out: JSONValue = [
                    "bus": .string(bus.layout.root), "created": .bool(created), "version": 1,
                    "settings": bus.settings.json, "config": noConfig ? .null : .string(configPath),
                    "config_created": .bool(configCreated),
                ]
                emit(out.serialized())
            } else {
                if !noConfig {
                    emit(configCreated ? "created \(configPath)" : "kept \(configPath) (it is valid)")
                }
                emit(
                    created
                        ? "created bus \(bus.layout.root) (protocol v1)"
                        : "bus \(bus.layout.root) is already a v1 bus; nothing changed")
                if configCreated || created { emit("next: planbus up") }
            }
        }
    }

    private func absolute(_ path: String, _ cwd: String) -> String {
        path.hasPrefix("/") ? path : cwd + "/" + path
    }

    /// `path` relative to `folder` when it is inside it, else absolute.
    private func relative(_ path: String, to folder: String) -> String {
        let standard = (path as NSString).standardizingPath
        let base = (folder as NSString).standardizingPath
        if standard.hasPrefix(base + "/") { return String(standard.dropFirst(base.count + 1)) }
        return standard
    }
}
