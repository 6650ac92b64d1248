import Foundation

/// Finds the configuration and the bus a command works on.
///
/// The file: `--config FILE`, else `$PLANBUS_CONFIG`, else `./planbus.yaml` when it exists, else
/// the built-in defaults. The bus: `--bus DIR`, else `$PLANBUS_BUS`, else the configuration's
/// `bus`, else `./bus`.
public struct ConfigLocator: Sendable {
    /// The `--config` value, if given.
    public var explicitFile: String?
    /// The `--bus` value, if given.
    public var explicitBus: String?
    /// The environment to read `PLANBUS_CONFIG` and `PLANBUS_BUS` from.
    public var environment: [String: String]
    /// The folder relative paths are resolved against.
    public var directory: String

    public init(
        config: String? = nil, bus: String? = nil,
        environment: [String: String] = Foundation.ProcessInfo.processInfo.environment,
        directory: String = FileManager.default.currentDirectoryPath
    ) {
        self.explicitFile = config
        self.explicitBus = bus
        self.environment = environment
        self.directory = directory
    }

    /// The configuration file to read, or `nil` for the defaults. An explicit file (flag or
    /// environment) is returned even when missing, so that loading it reports the mistake.
    public var file: String? {
        if let explicitFile { return absolute(explicitFile) }
        if let env = environment["PLANBUS_CONFIG"], !env.isEmpty { return absolute(env) }
        let local = absolute("planbus.yaml")
        return FileManager.default.fileExists(atPath: local) ? local : nil
    }

    /// Loads the configuration, with `--bus`/`$PLANBUS_BUS` overriding its bus.
    /// - Throws: ``LauncherError`` `invalidConfig`, `notFound` or `io`.
    public func load() throws(LauncherError) -> PlanbusConfig {
        var config =
            try file.map { path throws(LauncherError) in try ConfigLoader.load(path: path) }
            ?? ConfigLoader.defaults(directory: directory)
        if let bus = overridingBus { config.bus = absolute(bus) }
        return config
    }

    /// The bus path when no configuration needs reading: the flag or the environment, if set.
    public var overridingBus: String? {
        if let explicitBus { return explicitBus }
        if let env = environment["PLANBUS_BUS"], !env.isEmpty { return env }
        return nil
    }

    /// The bus path: the flag, the environment, the configuration file's `bus`, else `./bus`.
    /// - Throws: ``LauncherError`` when a configuration file is named but cannot be loaded.
    public func busPath() throws(LauncherError) -> String {
        if let bus = overridingBus { return bus }
        guard let file else { return "bus" }
        return try ConfigLoader.load(path: file).bus
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }
}
