import Bus
import FileFormats
import Foundation
import Roles
import Yams

#if canImport(Glibc)
    import Glibc
#endif

/// Walks the YAML node tree of `planbus.yaml`, checking each field as it goes.
struct ConfigReader {
    /// A key and its value in a mapping.
    struct Entry {
        let key: String
        let keyNode: Node
        let value: Node
        /// The dotted path of the value, such as `roles.builder.instances`.
        let field: String
    }

    static let topKeys = ["version", "bus", "repository", "backlog", "bus_settings", "supervisor", "agents", "roles"]
    static let busSettingsKeys = [
        "durable", "max_attempts", "heartbeat", "lease", "retry_base", "retry_cap", "poll", "janitor", "rescan", "wake",
    ]
    static let supervisorKeys = [
        "restart_backoff", "restart_backoff_max", "restart_intensity", "restart_period", "stable_after", "stop_grace",
        "start_timeout",
    ]
    static let roleKeys = [
        "instances", "agent", "model", "fallback", "reviewer", "max_cost_usd", "questions", "command", "args", "env",
        "timeouts",
    ]
    static let timeoutKeys = ["envelope", "hang", "stop_grace"]

    let file: String
    let folder: String

    func read(_ root: Node?) throws(LauncherError) -> PlanbusConfig {
        var config = ConfigLoader.defaults(directory: folder)
        config.file = file
        guard let root, !isNull(root) else { return config }
        guard case .mapping = root else {
            throw LauncherError(
                .invalidConfig,
                "\(location(root)): the file must be a mapping of keys to values (such as version: 1), got "
                    + describe(root))
        }
        var backlogEntry: Entry?
        for entry in try entries(root, "", known: Self.topKeys) {
            switch entry.key {
            case "version":
                guard hasTag(entry.value, .int), entry.value.int == 1 else {
                    throw fail(entry, "must be 1 (the only version of this format), got \(describe(entry.value))")
                }
            case "bus": config.bus = try path(entry)
            case "repository": config.repository = try path(entry)
            case "backlog":
                config.backlog = try backlog(entry)
                backlogEntry = entry
            case "bus_settings": config.busSettings = try busSettings(entry)
            case "supervisor": config.supervisor = try supervisor(entry)
            case "agents": config.agents = try agentsSection(entry)
            default: config.roles = try roles(entry) ?? config.roles
            }
        }
        if let backlogEntry { try checkBacklog(config, backlogEntry) }
        return config
    }

    // MARK: Sections

    func busSettings(_ section: Entry) throws(LauncherError) -> BusSettingsOverrides {
        var o = BusSettingsOverrides()
        var heartbeat: Entry?
        var lease: Entry?
        let day = Duration.seconds(86_400)
        let tenMinutes = Duration.seconds(600)
        for entry in try entries(section.value, section.field, known: Self.busSettingsKeys) {
            switch entry.key {
            case "durable": o.durable = try bool(entry)
            case "max_attempts": o.maxAttempts = try int(entry, 1...1000)
            case "heartbeat":
                o.heartbeat = try duration(entry, .milliseconds(10)...tenMinutes)
                heartbeat = entry
            case "lease":
                o.lease = try duration(entry, .milliseconds(50)...day)
                lease = entry
            case "retry_base": o.retryBase = try duration(entry, .zero...day)
            case "retry_cap": o.retryCap = try duration(entry, .zero...day)
            case "poll": o.poll = try duration(entry, .milliseconds(10)...tenMinutes)
            case "janitor": o.janitor = try duration(entry, .milliseconds(10)...tenMinutes)
            case "rescan": o.rescan = try duration(entry, .milliseconds(100)...day)
            default:
                let text = try choice(entry, WakeMode.allCases.map(\.rawValue))
                o.wake = WakeMode(rawValue: text)
            }
        }
        if let lease, let heartbeat, let l = o.lease, let h = o.heartbeat, l <= h {
            throw fail(
                lease,
                "must be longer than \(heartbeat.field) (\(DurationText.format(h))), got \(DurationText.format(l))")
        }
        return o
    }

    func supervisor(_ section: Entry) throws(LauncherError) -> SupervisorPolicy {
        var p = SupervisorPolicy()
        var backoffMax: Entry?
        let day = Duration.seconds(86_400)
        let hour = Duration.seconds(3_600)
        for entry in try entries(section.value, section.field, known: Self.supervisorKeys) {
            switch entry.key {
            case "restart_backoff": p.restartBackoff = try duration(entry, .zero...hour)
            case "restart_backoff_max":
                p.restartBackoffMax = try duration(entry, .zero...day)
                backoffMax = entry
            case "restart_intensity": p.restartIntensity = try int(entry, 1...1000)
            case "restart_period": p.restartPeriod = try duration(entry, .seconds(1)...day)
            case "stable_after": p.stableAfter = try duration(entry, .zero...day)
            case "stop_grace": p.stopGrace = try duration(entry, .zero...hour)
            default: p.startTimeout = try duration(entry, .milliseconds(100)...hour)
            }
        }
        if let backoffMax, p.restartBackoffMax < p.restartBackoff {
            throw fail(
                backoffMax,
                "must be at least \(section.field).restart_backoff (\(DurationText.format(p.restartBackoff))), got "
                    + DurationText.format(p.restartBackoffMax))
        }
        return p
    }

    /// The roles, or `nil` when the section is empty (which keeps the product roles).
    func roles(_ section: Entry) throws(LauncherError) -> [RoleConfig]? {
        if isNull(section.value) { return nil }
        var roles: [RoleConfig] = []
        var verifierEntry: Entry?
        for entry in try entries(section.value, section.field, known: nil) {
            roles.append(try role(entry))
            if entry.key == "verifier" { verifierEntry = entry }
        }
        try checkReviewers(roles, verifierEntry)
        return roles
    }

    func role(_ entry: Entry) throws(LauncherError) -> RoleConfig {
        let name = entry.key
        do {
            try Limits.checkRole(name, field: "role")
        } catch {
            throw LauncherError(
                .invalidConfig,
                "\(location(entry.keyNode)): \(entry.field): invalid role name \(QuotedText.quoted(name)) (a role "
                    + "name is a lower-case letter, then up to 31 lower-case letters, digits and dashes)")
        }
        let product = RoleConfig.productDefaults.first { $0.name == name }
        var role = RoleConfig(name: name, instances: product?.instances ?? 1)
        for item in try entries(entry.value, entry.field, known: Self.roleKeys) {
            switch item.key {
            case "instances":
                role.instances = try int(item, 0...64)
                if name == "planner", role.instances > 1 {
                    throw fail(
                        item,
                        "must be 0 or 1: the planner folds each run's inputs one at a time, so one planner "
                            + "serves the bus (run no planner on other hosts either)")
                }
            case "agent": role.agent = try choice(item, ConfigLoader.agents)
            case "model": role.model = isNull(item.value) ? nil : try string(item)
            case "fallback": role.fallback = try agentChoice(item)
            case "reviewer":
                guard name == "verifier" else {
                    throw fail(item, "is for the verifier only (a second review of each change)")
                }
                role.reviewer = try agentChoice(item)
            case "max_cost_usd": role.maxCostUSD = isNull(item.value) ? nil : try money(item)
            case "questions":
                guard name == "planner" else { throw fail(item, "is for the planner only") }
                role.questions = try int(item, 0...4)
            case "command": role.command = try command(item)
            case "args": role.args = isNull(item.value) ? [] : try strings(item)
            case "env": role.env = try env(item)
            default: role.timeouts = try timeouts(item)
            }
        }
        if product == nil, role.command == nil {
            let names = RoleConfig.productDefaults.map(\.name).joined(separator: ", ")
            throw LauncherError(
                .invalidConfig,
                "\(location(entry.keyNode)): \(entry.field): \(QuotedText.quoted(name)) is not a product role "
                    + "(\(names)), so it must set command (the program that runs it)")
        }
        return role
    }

    func command(_ entry: Entry) throws(LauncherError) -> [String]? {
        if isNull(entry.value) { return nil }
        if case .scalar(let scalar) = entry.value {
            throw fail(
                entry,
                "must be a list of words such as [\(QuotedText.quoted(scalar.string))], got \(describe(entry.value))")
        }
        let words = try strings(entry)
        guard let first = words.first, !first.isEmpty else {
            throw fail(entry, "must name a program: a non-empty list of words such as [python3, role.py], or null")
        }
        return words
    }

    func env(_ entry: Entry) throws(LauncherError) -> [String: String] {
        var env: [String: String] = [:]
        for item in try entries(entry.value, entry.field, known: nil) {
            let u = Array(item.key.utf8)
            let valid =
                !u.isEmpty && !(u[0] >= 0x30 && u[0] <= 0x39)
                && u.allSatisfy {
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F
                }
            guard valid else {
                throw LauncherError(
                    .invalidConfig,
                    "\(location(item.keyNode)): \(item.field): invalid variable name \(QuotedText.quoted(item.key)) "
                        + "(names match [A-Za-z_][A-Za-z0-9_]*)")
            }
            env[item.key] = try string(item, allowEmpty: true)
        }
        return env
    }

    func timeouts(_ entry: Entry) throws(LauncherError) -> RoleTimeouts {
        var t = RoleTimeouts()
        let day = Duration.seconds(86_400)
        for item in try entries(entry.value, entry.field, known: Self.timeoutKeys) {
            switch item.key {
            case "envelope": t.envelope = try duration(item, .milliseconds(10)...day)
            case "hang": t.hang = isNull(item.value) ? nil : try duration(item, .milliseconds(50)...day)
            default: t.stopGrace = isNull(item.value) ? nil : try duration(item, .zero...Duration.seconds(3_600))
            }
        }
        return t
    }

    // MARK: Mappings

    /// The entries of the mapping `node` (none when it is null), checked against `known`.
    func entries(_ node: Node, _ field: String, known: [String]?) throws(LauncherError) -> [Entry] {
        if isNull(node) { return [] }
        guard case .mapping(let mapping) = node else {
            throw LauncherError(
                .invalidConfig,
                "\(location(node)): \(field): must be a mapping (key: value lines indented under it), got "
                    + describe(node))
        }
        var result: [Entry] = []
        var seen: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw LauncherError(
                    .invalidConfig, "\(location(keyNode)): \(field): keys must be words, got \(describe(keyNode))")
            }
            let key = scalar.string
            let keyField = field.isEmpty ? key : "\(field).\(key)"
            if let known, !known.contains(key) {
                var what = "unknown key"
                if let suggestion = KeySuggestion.closest(to: key, in: known) {
                    what += ", did you mean \(QuotedText.quoted(suggestion))?"
                }
                throw LauncherError(
                    .invalidConfig,
                    "\(location(keyNode)): \(keyField): \(what) (known keys: \(known.joined(separator: ", ")))")
            }
            if let earlier = seen[key] {
                let line = earlier.mark.map { " (first at line \($0.line))" } ?? ""
                throw LauncherError(
                    .invalidConfig,
                    "\(location(keyNode)): \(keyField): duplicate key \(QuotedText.quoted(key))\(line); write each key once"
                )
            }
            seen[key] = keyNode
            result.append(Entry(key: key, keyNode: keyNode, value: value, field: keyField))
        }
        return result
    }

    // MARK: Values

    /// Whether `node` has the tag `name`, given or resolved from how the value is written.
    func hasTag(_ node: Node, _ name: Tag.Name) -> Bool {
        node.tag.rawValue == name.rawValue
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return hasTag(node, .null) }
        return false
    }

    func int(_ entry: Entry, _ range: ClosedRange<Int>) throws(LauncherError) -> Int {
        guard hasTag(entry.value, .int), let value = entry.value.int, range.contains(value) else {
            throw fail(
                entry,
                "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(describe(entry.value))")
        }
        return value
    }

    func bool(_ entry: Entry) throws(LauncherError) -> Bool {
        guard hasTag(entry.value, .bool), let value = entry.value.bool else {
            throw fail(entry, "must be true or false, got \(describe(entry.value))")
        }
        return value
    }

    func string(_ entry: Entry, allowEmpty: Bool = false) throws(LauncherError) -> String {
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value), allowEmpty || !scalar.string.isEmpty
        else {
            throw fail(entry, "must be \(allowEmpty ? "a" : "a non-empty") string, got \(describe(entry.value))")
        }
        return scalar.string
    }

    func choice(_ entry: Entry, _ options: [String]) throws(LauncherError) -> String {
        guard case .scalar(let scalar) = entry.value, options.contains(scalar.string) else {
            let list = options.dropLast().joined(separator: ", ") + " or " + (options.last ?? "")
            var what = "must be one of \(list), got \(describe(entry.value))"
            if case .scalar(let scalar) = entry.value, let near = KeySuggestion.closest(to: scalar.string, in: options)
            {
                what += "; did you mean \(QuotedText.quoted(near))?"
            }
            throw fail(entry, what)
        }
        return scalar.string
    }

    func strings(_ entry: Entry) throws(LauncherError) -> [String] {
        guard case .sequence(let sequence) = entry.value else {
            throw fail(entry, "must be a list of strings such as [--verbose], got \(describe(entry.value))")
        }
        var words: [String] = []
        for (index, item) in sequence.enumerated() {
            let itemEntry = Entry(key: "\(index)", keyNode: item, value: item, field: "\(entry.field)[\(index)]")
            words.append(try string(itemEntry, allowEmpty: true))
        }
        return words
    }

    func duration(_ entry: Entry, _ range: ClosedRange<Duration>) throws(LauncherError) -> Duration {
        let expected = "a duration \(DurationText.format(range))"
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value) else {
            throw fail(entry, "must be \(expected), got \(describe(entry.value))")
        }
        let value: Duration
        do {
            value = try DurationText.parse(scalar.string)
        } catch {
            throw fail(entry, error.message)
        }
        guard range.contains(value) else {
            throw fail(entry, "must be \(expected), got \(DurationText.format(value))")
        }
        return value
    }

    /// The backlog folder, or `nil` for none.
    func backlog(_ entry: Entry) throws(LauncherError) -> String? {
        if isNull(entry.value) { return nil }
        return try path(entry)
    }

    /// The backlog must be a folder of its own: every `*.yaml` file in it is taken as a plan, so
    /// the configuration's folder, the repository or the bus would lose files of theirs.
    func checkBacklog(_ config: PlanbusConfig, _ entry: Entry) throws(LauncherError) {
        guard let backlog = config.backlog else { return }
        let clashes = [
            (folder, "the folder of this file"), (config.repository, "the repository"), (config.bus, "the bus"),
        ]
        for (other, what) in clashes where backlog == other {
            throw fail(
                entry,
                "must be a folder of its own, not \(what) (\(other)): every .yaml file in it is taken as a plan; "
                    + "use a folder such as backlog")
        }
        if backlog.hasPrefix(config.bus + "/") {
            throw fail(entry, "must not be inside the bus (\(config.bus)); use a folder such as backlog")
        }
    }

    /// The absolute path an entry names, resolved against the file's folder.
    func path(_ entry: Entry) throws(LauncherError) -> String {
        FilePaths.resolve(try string(entry), against: folder)
    }

    // MARK: Messages

    func location(_ node: Node) -> String {
        guard let mark = node.mark else { return file }
        return "\(file):\(mark.line):\(mark.column)"
    }

    func fail(_ entry: Entry, _ what: String) -> LauncherError {
        LauncherError(.invalidConfig, "\(location(entry.value)): \(entry.field): \(what)")
    }

    /// How a value reads in a message: strings quoted, other scalars as written.
    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if hasTag(node, .null) { return scalar.string.isEmpty ? "nothing" : scalar.string }
            return hasTag(node, .str) ? QuotedText.quoted(scalar.string) : scalar.string
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}
