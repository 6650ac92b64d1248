import Bus

/// What `planbus init --group/--sign-key-file/--sign-key-id` asks of the bus.
struct InitSharing {
    var group: String?
    var signKeyFile: String?
    var signKeyID: String?

    /// Sets the options given in the settings of a bus being made.
    func apply(to settings: inout BusSettings) {
        if let group { settings.group = group }
        if let signKeyFile { settings.signKeyFile = signKeyFile }
        if let signKeyID { settings.signKeyID = signKeyID }
    }

    /// On a bus that already exists: refuses another group (sharing is decided when the bus is
    /// made), and turns signing on or changes its key, rewriting `bus.json`.
    /// - Returns: the bus opened again when its settings changed, else `nil`.
    func update(existing bus: Bus) throws -> Bus? {
        if let group, bus.settings.group != group {
            throw CLIFailure(
                "\(bus.layout.root) already exists as a "
                    + (bus.settings.group.map { "bus shared with group \"\($0)\"" } ?? "private bus")
                    + "; --group is set when a bus is made (make a new one with planbus init --group \(group) DIR)",
                code: 3)
        }
        guard let signKeyFile else { return nil }
        let keyID = signKeyID ?? bus.settings.signKeyID
        do throws(BusError) {
            // Checked before bus.json changes, so a bad key file leaves the bus as it was.
            _ = try EnvelopeSigner.load(
                keyFile: signKeyFile, keyID: keyID, busRoot: bus.layout.root, groupShared: bus.settings.group != nil)
            let changed = try Bus.updateSettings(at: bus.layout.root) { old in
                var new = old
                new.signKeyFile = signKeyFile
                new.signKeyID = keyID
                return new
            }
            return changed == nil ? nil : try Bus.open(at: bus.layout.root)
        } catch {
            let failure = CLIFailure(error)
            throw failure
        }
    }
}
