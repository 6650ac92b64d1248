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

    @Option(
        help: ArgumentHelp(
            "Share a new bus with this Unix group: folders 02770 (set-group-id), files 0660 (default: private to you, 0700 and 0600).",
            valueName: "name"))
    var group: String?

    @Option(
        help: ArgumentHelp(
            "Sign every envelope with the key in this file (outside the bus, mode 0600, or 0640 on a group bus); unsigned and forged envelopes are dead-lettered. On an existing bus it turns signing on.",
            valueName: "path"))
    var signKeyFile: String?

    @Option(
        help: ArgumentHelp("The name of the signing key, written in every signature (default: main).", valueName: "id"))
    var signKeyID: String?

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
            let sharing = try sharingSettings(cwd: cwd)
            sharing.apply(to: &settings)
            let roles = Array(Set(Bus.productRoles + (loaded?.roles.map(\.name) ?? []))).sorted()
            let (made, created) = try Bus.create(at: path, settings: settings, roles: roles)
            var bus = made
            var signingTurnedOn = false
            if !created, let changed = try sharing.update(existing: bus) {
                bus = changed
                signingTurnedOn = true
            }
            if json {
                let out: JSONValue = [
                    "bus": .string(bus.layout.root), "created": .bool(created), "version": 1,
                    "settings": bus.settings.json, "config": noConfig ? .null : .string(configPath),
                    "config_created": .bool(configCreated), "updated": .bool(signingTurnedOn),
                ]
                emit(out.serialized())
            } else {
                if !noConfig {
                    emit(configCreated ? "created \(configPath)" : "kept \(configPath) (it is valid)")
                }
                var sharing = bus.settings.group.map { ", shared with group \($0)" } ?? ""
                if let file = bus.settings.signKeyFile {
                    sharing += ", envelopes signed with key \(bus.settings.signKeyID) from \(file)"
                }
                emit(
                    created
                        ? "created bus \(bus.layout.root) (protocol v1\(sharing))"
                        : signingTurnedOn
                            ? "bus \(bus.layout.root): bus.json updated (protocol v1\(sharing))"
                            : "bus \(bus.layout.root) is already a v1 bus; nothing changed")
                if configCreated || created { emit("next: planbus up") }
            }
        }
    }

    /// The sharing options given, checked.
    private func sharingSettings(cwd: String) throws -> InitSharing {
        if let group, !BusPermissions.isValidGroupName(group) {
            throw CLIFailure("--group must be a Unix group name, not \"\(group)\"", code: 3)
        }
        if let signKeyID, !EnvelopeSigner.isValidKeyID(signKeyID) {
            throw CLIFailure("--sign-key-id must be 1 to 64 of [A-Za-z0-9_-], not \"\(signKeyID)\"", code: 3)
        }
        if signKeyID != nil && signKeyFile == nil {
            throw CLIFailure("--sign-key-id needs --sign-key-file", code: 64)
        }
        return InitSharing(
            group: group, signKeyFile: signKeyFile.map { absolute($0, cwd) }, signKeyID: signKeyID)
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
