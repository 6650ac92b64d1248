import Bus
import FileFormats
import Yams

/// The commented `planbus.yaml` that `planbus init` writes.
///
/// The template lists every field with its default value and a one-line comment. The bus tunables
/// are commented out, because setting one makes `planbus up` write it into the bus's `bus.json`;
/// everything else is written out. Read back with ``ConfigLoader/parse(_:file:)``, the template is
/// exactly ``ConfigLoader/defaults(directory:)`` with the given bus path.
public enum ConfigTemplate {
    /// The column where the comment after a value starts.
    static let commentColumn = 34

    /// The text of a new `planbus.yaml`.
    ///
    /// - Parameter bus: The bus path to write, absolute or relative to the file's folder.
    /// - Returns: The file's text, ending with a newline.
    public static func text(bus: String) -> String {
        let settings = BusSettings()
        let policy = SupervisorPolicy()
        let timeouts = RoleTimeouts()
        let ms = { (value: Int) in DurationText.format(.milliseconds(value)) }
        let d = { (value: Duration) in DurationText.format(value) }
        var lines = [
            "# planbus configuration, read from ./planbus.yaml (or --config FILE, or $PLANBUS_CONFIG).",
            "# Durations take a unit: 250ms, 5s, 2m, 1h. Relative paths are relative to this file's folder.",
            "# The values below are the defaults; docs/CONFIG.md describes every field.",
            "",
            line("version: 1", "the format of this file; must be 1"),
            "",
            line("bus: \(ConfigText.scalar(bus))", "the bus directory every role works through"),
            line("repository: .", "the git repository the roles change"),
            line("backlog: null", "a folder whose plan files the planner submits; null = none"),
            "",
            "# Bus tunables. `planbus init` and `planbus up` write the ones set here into the bus's",
            "# bus.json, since every process on the bus must agree on them. Remove the # to set one.",
            "bus_settings:",
            line("  # durable: \(settings.durable)", "fsync so that a crash loses no envelope"),
            line("  # max_attempts: \(settings.maxAttempts)", "deliveries before an envelope is dead-lettered"),
            line("  # heartbeat: \(ms(settings.heartbeatMs))", "how often a worker shows it is alive"),
            line("  # lease: \(ms(settings.leaseMs))", "silence before a worker's claims are taken over"),
            line("  # retry_base: \(ms(settings.retryBaseMs))", "first retry delay; doubles per attempt"),
            line("  # retry_cap: \(ms(settings.retryCapMs))", "longest retry delay"),
            line("  # poll: \(ms(settings.pollMs))", "how often a polling worker looks for work"),
            line("  # janitor: \(ms(settings.janitorMs))", "how often a worker tidies the bus"),
            line("  # rescan: \(ms(settings.rescanMs))", "full rescan period when inotify wakes workers"),
            line("  # wake: \(settings.wake.rawValue)", "auto, inotify or poll"),
            "",
            "# How the supervisor restarts and stops role processes.",
            "supervisor:",
            line("  restart_backoff: \(d(policy.restartBackoff))", "wait before re-spawning a crashed process"),
            line("  restart_backoff_max: \(d(policy.restartBackoffMax))", "the wait doubles per crash up to this"),
            line("  restart_intensity: \(policy.restartIntensity)", "more restarts in restart_period fail the role"),
            line("  restart_period: \(d(policy.restartPeriod))", "the window restart_intensity counts in"),
            line("  stable_after: \(d(policy.stableAfter))", "a process up this long starts a fresh backoff"),
            line("  stop_grace: \(d(policy.stopGrace))", "time from SIGTERM to SIGKILL"),
            line("  start_timeout: \(d(policy.startTimeout))", "time for a new process's first heartbeat"),
            "",
            "# How agents are reached and what they cost (docs/CONFIG.md, section 5a). Keys go in the",
            "# environment, never here: api_key_env names the variable.",
            "# agents:",
            line("#   claude: {executable: claude}", "also codex, gemini, aider, cursor-agent"),
            line("#   openai: {base_url: \"https://api.openai.com/v1\", api_key_env: OPENAI_API_KEY}", nil),
            line("#   anthropic: {base_url: \"https://api.anthropic.com/v1\", api_key_env: ANTHROPIC_API_KEY}", nil),
            line("#   command: {argv: [my-agent, \"{prompt_file}\"], output: text}", "text or json"),
            line("#   prices: {my-model: {input: 3, output: 15}}", "dollars per million tokens"),
            line("#   max_cost_usd: null", "the most one run may cost"),
            line("#   limit_wait: 60s", "wait on a limit that gives no reset time"),
            "",
            "# The roles to launch. Without this section the five roles below run with these counts;",
            "# with it, only the roles listed here run.",
            "roles:",
        ]
        for (index, role) in RoleConfig.productDefaults.enumerated() {
            guard index == 0 else {
                lines.append(line("  \(role.name):", index == 1 ? "every role takes the keys planner shows" : nil))
                lines.append("    instances: \(role.instances)")
                lines.append("    agent: \(role.agent)")
                lines.append("    model: null")
                if role.name == "verifier" {
                    lines.append(line("    reviewer: null", "{agent: anthropic, model: …}: a second review"))
                }
                continue
            }
            lines += [
                "  \(role.name):",
                line("    instances: \(role.instances)", "processes of this role on this host, 0 to 64"),
                line(
                    "    agent: \(role.agent)",
                    "none, claude, codex, gemini, aider, cursor-agent, command, openai or anthropic"),
                line("    model: null", "the agent's model; null = the agent's default"),
                line("    fallback: null", "{agent: codex, model: gpt-5}: used while the agent is limited"),
                line("    max_cost_usd: null", "the most this role may spend on one run"),
                line("    questions: 4", "planner only: questions before planning a free-text goal"),
                line("    command: null", "a program to run instead of the built-in role"),
                line("    args: []", "extra arguments for the role's command line"),
                line("    env: {}", "extra environment variables, NAME: value"),
                "    timeouts:",
                line("      envelope: \(d(timeouts.envelope))", "longest work on one envelope before a retry"),
                line("      hang: null", "heartbeat stall that counts as hung; null = lease"),
                line("      stop_grace: null", "SIGTERM to SIGKILL; null = supervisor.stop_grace"),
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` followed by `# comment` at ``commentColumn``.
    static func line(_ text: String, _ comment: String?) -> String {
        guard let comment else { return text }
        let pad = max(1, commentColumn - 1 - text.count)
        return text + String(repeating: " ", count: pad) + "# " + comment
    }
}

/// Quoting for messages and for YAML written by planbus.
enum ConfigText {
    /// `text` as a YAML scalar: plain when YAML reads it back as the same string, else quoted.
    static func scalar(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "_./-".unicodeScalars.contains($0)
        }
        guard plain, let first = text.first, first != "-" else { return QuotedText.quoted(text) }
        return Resolver.default.resolveTag(of: Node(text)) == .str ? text : QuotedText.quoted(text)
    }
}
