import Bus
import Roles
import Yams

/// The agent parts of `planbus.yaml`: the `agents:` section and a role's `fallback:`,
/// `reviewer:`, `max_cost_usd:` and `questions:`.
extension ConfigReader {
    static let agentsKeys = ["prices", "max_cost_usd", "limit_wait"] + AgentCatalog.names.filter { $0 != "none" }
    static let endpointKeys = ["base_url", "api_key_env", "executable", "argv", "output"]
    static let priceKeys = ["input", "output", "cache_read", "cache_write"]

    func agentsSection(_ section: Entry) throws(LauncherError) -> AgentsConfig {
        var config = AgentsConfig()
        for entry in try entries(section.value, section.field, known: Self.agentsKeys) {
            switch entry.key {
            case "prices": config.prices = try prices(entry)
            case "max_cost_usd": config.maxRunCostUSD = isNull(entry.value) ? nil : try money(entry)
            case "limit_wait": config.limitWait = try duration(entry, .seconds(1)...Duration.seconds(86_400))
            default: config.endpoints[entry.key] = try endpoint(entry)
            }
        }
        return config
    }

    func endpoint(_ section: Entry) throws(LauncherError) -> AgentProfile {
        var profile = AgentProfile(agent: section.key)
        for entry in try entries(section.value, section.field, known: Self.endpointKeys) {
            switch entry.key {
            case "base_url":
                let text = try string(entry)
                guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                    throw fail(entry, "must be an http:// or https:// URL, got \(describe(entry.value))")
                }
                profile.baseURL = text
            case "api_key_env": profile.apiKeyEnv = try string(entry, allowEmpty: true)
            case "executable": profile.executable = try string(entry)
            case "argv":
                guard section.key == "command" else { throw fail(entry, "is for the command agent only") }
                let words = try strings(entry)
                guard !words.isEmpty, !words[0].isEmpty else {
                    throw fail(entry, "must name a program: a list such as [my-agent, \"{prompt_file}\"]")
                }
                do {
                    _ = try CommandAdapter(template: words)
                } catch {
                    throw fail(entry, error.message)
                }
                profile.command = words
            default:
                guard section.key == "command" else { throw fail(entry, "is for the command agent only") }
                profile.output = try choice(entry, ["text", "json"])
            }
        }
        if section.key == "command", profile.command == nil {
            throw fail(section, "needs argv: the program and arguments to run, such as [my-agent, \"{prompt_file}\"]")
        }
        return profile
    }

    func prices(_ section: Entry) throws(LauncherError) -> PriceTable {
        var table = PriceTable()
        for model in try entries(section.value, section.field, known: nil) {
            var values: [String: Double] = [:]
            for entry in try entries(model.value, model.field, known: Self.priceKeys) {
                values[entry.key] = try money(entry)
            }
            guard let input = values["input"], let output = values["output"] else {
                throw fail(model, "needs input and output: dollars per million tokens, such as {input: 3, output: 15}")
            }
            table.prices[model.key] = PriceTable.Price(
                input: input, output: output, cacheRead: values["cache_read"], cacheWrite: values["cache_write"])
        }
        return table
    }

    /// A role's `fallback:` or `reviewer:`: `{agent: A, model: M}`.
    func agentChoice(_ section: Entry) throws(LauncherError) -> AgentChoice? {
        if isNull(section.value) { return nil }
        var choice = AgentChoice(agent: "none")
        var named = false
        for entry in try entries(section.value, section.field, known: ["agent", "model"]) {
            if entry.key == "agent" {
                choice.agent = try self.choice(entry, AgentCatalog.names)
                named = true
            } else {
                choice.model = isNull(entry.value) ? nil : try string(entry)
            }
        }
        guard named else { throw fail(section, "needs agent: one of \(AgentCatalog.names.joined(separator: ", "))") }
        return choice.agent == "none" ? nil : choice
    }

    /// The verifier's review is an independent check: its model must not be the builder's, and a
    /// second reviewer must not be the first.
    func checkReviewers(_ roles: [RoleConfig], _ entry: Entry?) throws(LauncherError) {
        guard let entry, let verifier = roles.first(where: { $0.name == "verifier" }), verifier.agent != "none"
        else { return }
        func same(_ a: String, _ am: String?, _ b: String, _ bm: String?) -> Bool { a == b && (am ?? "") == (bm ?? "") }
        if let builder = roles.first(where: { $0.name == "builder" }), builder.agent != "none",
            same(verifier.agent, verifier.model, builder.agent, builder.model)
        {
            throw LauncherError(
                .invalidConfig,
                "\(location(entry.keyNode)): \(entry.field): the verifier reviews with the builder's own agent and model "
                    + "(\(verifier.agent)\(verifier.model.map { "/\($0)" } ?? "")); a review must be by a different model: "
                    + "set roles.verifier.model (or agent) to another one")
        }
        if let second = verifier.reviewer, same(verifier.agent, verifier.model, second.agent, second.model) {
            throw LauncherError(
                .invalidConfig,
                "\(location(entry.keyNode)): \(entry.field).reviewer: the second reviewer is the verifier's own agent "
                    + "and model; name another model, or remove reviewer")
        }
    }

    /// A non-negative number of dollars.
    func money(_ entry: Entry) throws(LauncherError) -> Double {
        guard case .scalar(let scalar) = entry.value, hasTag(entry.value, .int) || hasTag(entry.value, .float),
            let value = Double(scalar.string), value >= 0, value.isFinite
        else {
            throw fail(entry, "must be a number of dollars, 0 or more, got \(describe(entry.value))")
        }
        return value
    }
}
