import Bus
import FileFormats
import Foundation
import Launcher
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh temporary folder for configuration files, removed when the value is released.
final class ConfigFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/planbus-config-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The path of `planbus.yaml` in the folder.
    var file: String { path + "/planbus.yaml" }

    /// Writes `text` to `planbus.yaml` and returns its path.
    @discardableResult
    func write(_ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// The text of `planbus.yaml`.
    func read() throws -> String {
        try String(contentsOfFile: file, encoding: .utf8)
    }
}

/// The error `body` throws, or `nil` when it throws none.
func launcherError(_ body: () throws(LauncherError) -> Void) -> LauncherError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

@Suite("planbus.yaml: loading")
struct ConfigLoaderTests {
    @Test("the template reads back as the defaults", arguments: ["bus", "/srv/planbus/bus", "my bus", "true"])
    func templateRoundTrip(bus: String) throws {
        let folder = try ConfigFolder()
        let file = try folder.write(ConfigTemplate.text(bus: bus))
        let config = try ConfigLoader.load(path: file)
        var expected = ConfigLoader.defaults(directory: folder.path)
        expected.file = file
        expected.bus = bus.hasPrefix("/") ? bus : folder.path + "/" + bus
        #expect(config == expected)
        #expect(config.roles.map(\.name) == ["planner", "builder", "verifier", "judge", "docs"])
    }

    @Test("the template lists every field")
    func templateListsEveryField() {
        let text = ConfigTemplate.text(bus: "bus")
        let keys = [
            "version: 1", "bus: bus", "repository: .", "bus_settings:", "# durable: true", "# max_attempts: 5",
            "# heartbeat: 2s", "# lease: 15s", "# retry_base: 1s", "# retry_cap: 5m", "# poll: 500ms", "# janitor: 1s",
            "# rescan: 30s", "# wake: auto", "supervisor:", "restart_backoff: 100ms", "restart_backoff_max: 10s",
            "restart_intensity: 5", "restart_period: 1m", "stable_after: 10s", "stop_grace: 10s",
            "start_timeout: 15s", "roles:", "instances: 2", "agent: none", "model: null", "command: null", "args: []",
            "env: {}", "timeouts:", "envelope: 30m", "hang: null", "stop_grace: null", "# agents:", "#   claude:",
            "#   openai:", "#   anthropic:", "#   command:", "#   prices:", "#   max_cost_usd: null",
            "#   limit_wait: 60s", "fallback: null", "reviewer: null", "max_cost_usd: null", "questions: 4",
        ]
        for key in keys {
            #expect(text.contains(key), "missing \(key)")
        }
        #expect(text.hasSuffix("\n"))
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 120 })
    }

    @Test(
        "an empty file or one of only comments is the defaults",
        arguments: ["", "# nothing yet\n\n  # really\n", "---\n"])
    func emptyFile(text: String) throws {
        let folder = try ConfigFolder()
        let config = try ConfigLoader.load(path: try folder.write(text))
        #expect(config.file == folder.file)
        #expect(config.bus == folder.path + "/bus")
        #expect(config.repository == folder.path)
        #expect(config.busSettings == BusSettingsOverrides())
        #expect(config.supervisor == SupervisorPolicy())
        #expect(config.roles == RoleConfig.productDefaults)
    }

    @Test("a missing file is notFound and names planbus init")
    func missingFile() throws {
        let folder = try ConfigFolder()
        let error = launcherError { () throws(LauncherError) in _ = try ConfigLoader.load(path: folder.file) }
        #expect(error?.code == .notFound)
        #expect(error?.message == "no configuration at \(folder.file) (create one with planbus init)")
    }

    @Test("a folder in place of the file is an io error")
    func unreadableFile() throws {
        let folder = try ConfigFolder()
        try FileManager.default.createDirectory(atPath: folder.file, withIntermediateDirectories: false)
        let error = launcherError { () throws(LauncherError) in _ = try ConfigLoader.load(path: folder.file) }
        #expect(error?.code == .io)
        #expect(error?.errno == EISDIR)
    }

    @Test("every field is read")
    func everyField() throws {
        let folder = try ConfigFolder()
        let file = try folder.write(
            """
            version: 1
            bus: shared/bus
            repository: ../target
            bus_settings:
              durable: false
              max_attempts: 7
              heartbeat: 250ms
              lease: 3s
              retry_base: 0ms
              retry_cap: 2m
              poll: 100ms
              janitor: 2s
              rescan: 1h
              wake: poll
            supervisor:
              restart_backoff: 50ms
              restart_backoff_max: 1m
              restart_intensity: 9
              restart_period: 2m
              stable_after: 30s
              stop_grace: 3s
              start_timeout: 20s
            roles:
              builder:
                instances: 4
                agent: claude
                model: claude-sonnet-4
                args: [--verbose, "two words"]
                env: {PLANBUS_X: "1", _Y: yes, EMPTY: ""}
                timeouts:
                  envelope: 2h
                  hang: 45s
                  stop_grace: 5s
              judge:
              tester:
                command: [python3, tester.py]
                agent: command
            """)
        let config = try ConfigLoader.load(path: file)
        let parent = String(folder.path[..<folder.path.lastIndex(of: "/")!])
        #expect(config.bus == folder.path + "/shared/bus")
        #expect(config.repository == parent + "/target")

        var settings = BusSettingsOverrides()
        settings.durable = false
        settings.maxAttempts = 7
        settings.heartbeat = .milliseconds(250)
        settings.lease = .seconds(3)
        settings.retryBase = .zero
        settings.retryCap = .seconds(120)
        settings.poll = .milliseconds(100)
        settings.janitor = .seconds(2)
        settings.rescan = .seconds(3_600)
        settings.wake = .poll
        #expect(config.busSettings == settings)

        var policy = SupervisorPolicy()
        policy.restartBackoff = .milliseconds(50)
        policy.restartBackoffMax = .seconds(60)
        policy.restartIntensity = 9
        policy.restartPeriod = .seconds(120)
        policy.stableAfter = .seconds(30)
        policy.stopGrace = .seconds(3)
        policy.startTimeout = .seconds(20)
        #expect(config.supervisor == policy)

        #expect(config.roles.map(\.name) == ["builder", "judge", "tester"])
        var builder = RoleConfig(name: "builder", instances: 4)
        builder.agent = "claude"
        builder.model = "claude-sonnet-4"
        builder.args = ["--verbose", "two words"]
        builder.env = ["PLANBUS_X": "1", "_Y": "yes", "EMPTY": ""]
        builder.timeouts.envelope = .seconds(7_200)
        builder.timeouts.hang = .seconds(45)
        builder.timeouts.stopGrace = .seconds(5)
        #expect(config.role("builder") == builder)
        #expect(config.role("judge") == RoleConfig(name: "judge"))
        var tester = RoleConfig(name: "tester")
        tester.command = ["python3", "tester.py"]
        tester.agent = "command"
        #expect(config.role("tester") == tester)
    }

    @Test("the agents section and a role's agent keys become the settings passed to the role process")
    func agentSettings() throws {
        let folder = try ConfigFolder()
        let file = try folder.write(
            """
            agents:
              claude: {executable: /opt/claude/bin/claude}
              openai: {base_url: "http://127.0.0.1:8000/v1", api_key_env: ""}
              command: {argv: [my-agent, "{prompt_file}"], output: json}
              prices:
                local-7b: {input: 0.1, output: 0.2}
                gpt-4o: {input: 5, output: 20, cache_read: 2.5}
              max_cost_usd: 12.5
              limit_wait: 5m
            roles:
              planner: {agent: command, questions: 2}
              builder:
                agent: claude
                model: claude-sonnet-4
                fallback: {agent: openai, model: local-7b}
                max_cost_usd: 8
              verifier:
                agent: openai
                model: gpt-4o
                reviewer: {agent: claude, model: claude-opus-4}
              docs:
            """)
        let config = try ConfigLoader.load(path: file)
        let builder = config.agentSettings(for: "builder")
        #expect(
            builder.primary
                == AgentProfile(agent: "claude", model: "claude-sonnet-4", executable: "/opt/claude/bin/claude"))
        #expect(
            builder.fallback
                == AgentProfile(agent: "openai", model: "local-7b", baseURL: "http://127.0.0.1:8000/v1", apiKeyEnv: ""))
        #expect(builder.maxRunCostUSD == 12.5)
        #expect(builder.maxRoleCostUSD == ["builder": 8])
        #expect(builder.limitWait == .seconds(300))
        #expect(builder.prices.price(of: "gpt-4o") == PriceTable.Price(input: 5, output: 20, cacheRead: 2.5))
        #expect(builder.prices.price(of: "claude-sonnet-4") == PriceTable.builtIn.price(of: "claude-sonnet-4"))
        #expect(
            builder.roleAgents == ["planner": "command", "builder": "claude", "verifier": "openai", "docs": "none"])
        #expect(config.agentSettings(for: "verifier").reviewer?.label == "claude/claude-opus-4")
        let planner = config.agentSettings(for: "planner")
        #expect(planner.primary?.command == ["my-agent", "{prompt_file}"] && planner.primary?.output == "json")
        #expect(planner.maxQuestions == 2)
        #expect(config.agentSettings(for: "docs").primary == nil)
        // What the role process gets on its command line reads back the same.
        #expect(try AgentSettings(json: JSONValue.parse(builder.json.serialized())) == builder)
    }

    @Test("a product role written without a value keeps its default instance count")
    func nullRole() throws {
        let folder = try ConfigFolder()
        let config = try ConfigLoader.load(path: try folder.write("roles:\n  builder:\n  docs: ~\n"))
        #expect(config.roles == [RoleConfig(name: "builder", instances: 2), RoleConfig(name: "docs")])
    }

    @Test("an empty roles mapping runs no roles; a roles key without a value keeps the defaults")
    func emptyRoles() throws {
        let folder = try ConfigFolder()
        #expect(try ConfigLoader.load(path: try folder.write("roles: {}\n")).roles.isEmpty)
        #expect(try ConfigLoader.load(path: try folder.write("roles:\n")).roles == RoleConfig.productDefaults)
    }

    @Test("relative paths are resolved against the file's folder, absolute ones kept")
    func pathResolution() throws {
        let folder = try ConfigFolder()
        try FileManager.default.createDirectory(atPath: folder.path + "/conf", withIntermediateDirectories: false)
        let file = folder.path + "/conf/planbus.yaml"
        try Data("bus: ./../bus/./x/..\nrepository: /srv/repo/\n".utf8).write(to: URL(fileURLWithPath: file))
        let config = try ConfigLoader.load(path: file)
        #expect(config.bus == folder.path + "/bus")
        #expect(config.repository == "/srv/repo")
        #expect(config.file == file)
    }

    @Test("a relative file path is taken from the current directory")
    func relativeFilePath() throws {
        let folder = try ConfigFolder()
        try folder.write("bus: b\n")
        let current = FileManager.default.currentDirectoryPath
        let relative = String(repeating: "../", count: current.split(separator: "/").count) + folder.file.dropFirst()
        let config = try ConfigLoader.load(path: relative)
        #expect(config.file == folder.file)
        #expect(config.bus == folder.path + "/b")
    }

    @Test("defaults(directory:) puts the bus in the folder")
    func defaults() {
        let config = ConfigLoader.defaults(directory: "/work/repo/")
        #expect(config.file == nil)
        #expect(config.bus == "/work/repo/bus")
        #expect(config.repository == "/work/repo")
        #expect(config.roles == RoleConfig.productDefaults)
    }
}

/// A configuration that must be rejected, and where and why.
struct BadConfig: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    /// `LINE:COLUMN: FIELD:` after the file name.
    let location: String
    /// Text the rest of the message contains.
    let says: [String]

    var testDescription: String { name }

    static let all: [BadConfig] = [
        BadConfig(
            name: "YAML syntax", text: "version: 1\nbus: bus\n  repository: x\n", location: "3:13:",
            says: ["invalid YAML: mapping values are not allowed in this context"]),
        BadConfig(
            name: "unclosed flow list", text: "roles:\n  builder:\n    args: [a, b\n", location: "4:1:",
            says: ["invalid YAML:", "while parsing a flow sequence at line 3, column 11"]),
        BadConfig(
            name: "control character", text: "bus: bus\nrepository: a\u{01}\n", location: "2:14:",
            says: ["invalid text: control characters are not allowed"]),
        BadConfig(
            name: "tab indentation", text: "roles:\n\tbuilder:\n", location: "2:1:",
            says: ["invalid YAML: found character that cannot start any token"]),
        BadConfig(
            name: "unknown top-level key", text: "version: 1\nbsu: bus\n", location: "2:1: bsu:",
            says: [
                "unknown key, did you mean \"bus\"?", "(known keys: version, bus, repository, backlog, bus_settings,",
            ]),
        BadConfig(
            name: "unknown key without a near one", text: "colour: red\n", location: "1:1: colour:",
            says: [
                "unknown key (known keys: version, bus, repository, backlog, bus_settings, supervisor, agents, roles)"
            ]),
        BadConfig(
            name: "unknown role key", text: "roles:\n  builder:\n    instanses: 2\n",
            location: "3:5: roles.builder.instanses:",
            says: [
                "unknown key, did you mean \"instances\"? (known keys: instances, agent, model, fallback, reviewer, "
                    + "max_cost_usd, questions, command, args, env, timeouts)"
            ]),
        BadConfig(
            name: "unknown timeouts key", text: "roles:\n  docs:\n    timeouts:\n      envelop: 1m\n",
            location: "4:7: roles.docs.timeouts.envelop:",
            says: ["unknown key, did you mean \"envelope\"? (known keys: envelope, hang, stop_grace)"]),
        BadConfig(
            name: "unknown bus setting", text: "bus_settings:\n  heartbeat_ms: 100\n",
            location: "2:3: bus_settings.heartbeat_ms:", says: ["unknown key, did you mean \"heartbeat\"?"]),
        BadConfig(
            name: "unknown supervisor key", text: "supervisor:\n  stopgrace: 1s\n",
            location: "2:3: supervisor.stopgrace:", says: ["unknown key, did you mean \"stop_grace\"?"]),
        BadConfig(
            name: "mapping where a scalar goes", text: "bus:\n  path: x\n", location: "2:3: bus:",
            says: ["must be a non-empty string, got a mapping"]),
        BadConfig(
            name: "scalar where a mapping goes", text: "supervisor: fast\n", location: "1:13: supervisor:",
            says: ["must be a mapping (key: value lines indented under it), got \"fast\""]),
        BadConfig(
            name: "list where a mapping goes", text: "roles:\n  - builder\n", location: "2:3: roles:",
            says: ["must be a mapping", "got a list"]),
        BadConfig(
            name: "scalar where a list goes", text: "roles:\n  builder:\n    args: --verbose\n",
            location: "3:11: roles.builder.args:",
            says: ["must be a list of strings such as [--verbose], got \"--verbose\""]),
        BadConfig(
            name: "command as one string", text: "roles:\n  x:\n    command: ./x.sh\n",
            location: "3:14: roles.x.command:", says: ["must be a list of words such as [\"./x.sh\"], got \"./x.sh\""]),
        BadConfig(
            name: "empty command", text: "roles:\n  x:\n    command: []\n", location: "3:14: roles.x.command:",
            says: ["must name a program"]),
        BadConfig(
            name: "non-boolean durable", text: "bus_settings:\n  durable: maybe\n",
            location: "2:12: bus_settings.durable:", says: ["must be true or false, got \"maybe\""]),
        BadConfig(
            name: "max_attempts out of range", text: "bus_settings:\n  max_attempts: 0\n",
            location: "2:17: bus_settings.max_attempts:", says: ["must be an integer from 1 to 1000, got 0"]),
        BadConfig(
            name: "heartbeat out of range", text: "bus_settings:\n  heartbeat: 20m\n",
            location: "2:14: bus_settings.heartbeat:", says: ["must be a duration from 10ms to 10m, got 20m"]),
        BadConfig(
            name: "duration without a unit", text: "bus_settings:\n  heartbeat: 2\n",
            location: "2:14: bus_settings.heartbeat:",
            says: ["2 has no unit (write 2s for seconds or 2ms for milliseconds; units: ms, s, m, h)"]),
        BadConfig(
            name: "duration with a fraction", text: "supervisor:\n  stop_grace: 1.5s\n",
            location: "2:15: supervisor.stop_grace:",
            says: ["must be a duration such as 250ms, 5s, 2m or 1h", "got \"1.5s\""]),
        BadConfig(
            name: "duration with an unknown unit", text: "roles:\n  judge:\n    timeouts:\n      hang: 3d\n",
            location: "4:13: roles.judge.timeouts.hang:", says: ["got \"3d\""]),
        BadConfig(
            name: "invalid role name", text: "roles:\n  Builder:\n    command: [x]\n", location: "2:3: roles.Builder:",
            says: ["invalid role name \"Builder\""]),
        BadConfig(
            name: "duplicate role", text: "roles:\n  builder:\n    instances: 1\n  docs:\n  builder:\n",
            location: "5:3: roles.builder:", says: ["role \"builder\" is defined twice (first at line 2)"]),
        BadConfig(
            name: "duplicate key", text: "bus: a\nroles:\n  docs:\n    agent: none\n    model: x\n    agent: claude\n",
            location: "6:5: roles.docs.agent:", says: ["duplicate key \"agent\" (first at line 4)"]),
        BadConfig(
            name: "duplicate key in a flow mapping", text: "supervisor: {stop_grace: 1s, stop_grace: 2s}\n",
            location: "1:30: supervisor.stop_grace:", says: ["duplicate key \"stop_grace\" (first at line 1)"]),
        BadConfig(
            name: "unknown agent", text: "roles:\n  builder:\n    agent: claud\n",
            location: "3:12: roles.builder.agent:",
            says: [
                "must be one of none, claude, codex, gemini, aider, cursor-agent, command, openai or anthropic, got "
                    + "\"claud\"; did you mean \"claude\"?"
            ]),
        BadConfig(
            name: "too many instances", text: "roles:\n  builder:\n    instances: 65\n",
            location: "3:16: roles.builder.instances:", says: ["must be an integer from 0 to 64, got 65"]),
        BadConfig(
            name: "two planners", text: "roles:\n  planner:\n    instances: 2\n",
            location: "3:16: roles.planner.instances:", says: ["must be 0 or 1: the planner folds"]),
        BadConfig(
            name: "instances as a word", text: "roles:\n  builder:\n    instances: two\n",
            location: "3:16: roles.builder.instances:", says: ["must be an integer from 0 to 64, got \"two\""]),
        BadConfig(
            name: "negative instances", text: "roles:\n  builder:\n    instances: -1\n",
            location: "3:16: roles.builder.instances:", says: ["got -1"]),
        BadConfig(
            name: "lease not longer than heartbeat", text: "bus_settings:\n  heartbeat: 5s\n  lease: 5000ms\n",
            location: "3:10: bus_settings.lease:", says: ["must be longer than bus_settings.heartbeat (5s), got 5s"]),
        BadConfig(
            name: "backoff max below backoff", text: "supervisor:\n  restart_backoff: 2s\n  restart_backoff_max: 1s\n",
            location: "3:24: supervisor.restart_backoff_max:",
            says: ["must be at least supervisor.restart_backoff (2s), got 1s"]),
        BadConfig(
            name: "custom role without command", text: "roles:\n  tester:\n    instances: 1\n",
            location: "2:3: roles.tester:",
            says: ["\"tester\" is not a product role (planner, builder, verifier, judge, docs), so it must set command"]
        ),
        BadConfig(
            name: "wrong version", text: "version: 2\n", location: "1:10: version:",
            says: ["must be 1 (the only version of this format), got 2"]),
        BadConfig(
            name: "invalid environment name", text: "roles:\n  docs:\n    env:\n      1X: y\n",
            location: "4:7: roles.docs.env.1X:", says: ["invalid variable name \"1X\""]),
        BadConfig(
            name: "environment value that is a mapping", text: "roles:\n  docs:\n    env:\n      X: {a: b}\n",
            location: "4:10: roles.docs.env.X:", says: ["must be a string, got a mapping"]),
        BadConfig(
            name: "empty model", text: "roles:\n  docs:\n    model: \"\"\n", location: "3:12: roles.docs.model:",
            says: ["must be a non-empty string, got \"\""]),
        BadConfig(
            name: "unknown fallback agent", text: "roles:\n  builder:\n    fallback: {agent: gpt}\n",
            location: "3:23: roles.builder.fallback.agent:", says: ["must be one of none, claude, codex"]),
        BadConfig(
            name: "fallback without an agent", text: "roles:\n  builder:\n    fallback: {model: m}\n",
            location: "3:15: roles.builder.fallback:", says: ["needs agent: one of none, claude"]),
        BadConfig(
            name: "reviewer on a builder", text: "roles:\n  builder:\n    reviewer: {agent: claude}\n",
            location: "3:15: roles.builder.reviewer:", says: ["is for the verifier only"]),
        BadConfig(
            name: "questions on a builder", text: "roles:\n  builder:\n    questions: 2\n",
            location: "3:16: roles.builder.questions:", says: ["is for the planner only"]),
        BadConfig(
            name: "too many questions", text: "roles:\n  planner:\n    questions: 9\n",
            location: "3:16: roles.planner.questions:", says: ["must be an integer from 0 to 4, got 9"]),
        BadConfig(
            name: "negative cost", text: "roles:\n  builder:\n    max_cost_usd: -1\n",
            location: "3:19: roles.builder.max_cost_usd:", says: ["must be a number of dollars, 0 or more"]),
        BadConfig(
            name: "cost as a word", text: "agents:\n  max_cost_usd: ten\n",
            location: "2:17: agents.max_cost_usd:", says: ["must be a number of dollars, 0 or more, got \"ten\""]),
        BadConfig(
            name: "base URL that is not one", text: "agents:\n  openai:\n    base_url: localhost:8000\n",
            location: "3:15: agents.openai.base_url:", says: ["must be an http:// or https:// URL"]),
        BadConfig(
            name: "argv on a CLI agent", text: "agents:\n  claude:\n    argv: [x]\n",
            location: "3:11: agents.claude.argv:", says: ["is for the command agent only"]),
        BadConfig(
            name: "command agent without argv", text: "agents:\n  command:\n    output: json\n",
            location: "3:5: agents.command:", says: ["needs argv"]),
        BadConfig(
            name: "command agent with an unknown placeholder",
            text: "agents:\n  command:\n    argv: [run, \"{prompt}\"]\n", location: "3:11: agents.command.argv:",
            says: ["{prompt}"]),
        BadConfig(
            name: "price without output", text: "agents:\n  prices:\n    m1: {input: 1}\n",
            location: "3:9: agents.prices.m1:", says: ["needs input and output"]),
        BadConfig(
            name: "unknown agents key", text: "agents:\n  opneai: {}\n", location: "2:3: agents.opneai:",
            says: ["unknown key, did you mean \"openai\"?"]),
        BadConfig(
            name: "verifier reviewing with the builder's model",
            text: "roles:\n  builder: {agent: claude, model: m1}\n  verifier: {agent: claude, model: m1}\n",
            location: "3:3: roles.verifier:", says: ["a review must be by a different model"]),
        BadConfig(
            name: "second reviewer the same as the first",
            text: "roles:\n  verifier:\n    agent: openai\n    reviewer: {agent: openai}\n",
            location: "2:3: roles.verifier.reviewer:", says: ["the second reviewer is the verifier's own agent"]),
        BadConfig(
            name: "not a mapping at the top", text: "- bus\n", location: "1:1:",
            says: ["the file must be a mapping of keys to values (such as version: 1), got a list"]),
    ]
}

@Suite("planbus.yaml: mistakes")
struct ConfigErrorTests {
    @Test("each mistake names the file, line, column and field", arguments: BadConfig.all)
    func rejected(_ bad: BadConfig) throws {
        let folder = try ConfigFolder()
        let file = try folder.write(bad.text)
        let error = launcherError { () throws(LauncherError) in _ = try ConfigLoader.load(path: file) }
        let message = error?.message ?? ""
        #expect(error?.code == .invalidConfig)
        #expect(message.hasPrefix("\(file):\(bad.location)"), "\(message)")
        for text in bad.says {
            #expect(message.contains(text), "\(message)")
        }
    }

    @Test("parse names the file it is given")
    func parseNamesTheFile() {
        let error = launcherError { () throws(LauncherError) in
            _ = try ConfigLoader.parse("roles:\n  builder:\n    instances: two\n", file: "/x/planbus.yaml")
        }
        #expect(
            error?.message
                == "/x/planbus.yaml:3:16: roles.builder.instances: must be an integer from 0 to 64, got \"two\"")
    }
}

@Suite("durations in planbus.yaml")
struct ConfigDurationTests {
    @Test(
        "durations read and write back",
        arguments: [
            ("250ms", Duration.milliseconds(250)), ("5s", .seconds(5)), ("2m", .seconds(120)), ("1h", .seconds(3_600)),
            ("0s", .zero), ("1500ms", .milliseconds(1_500)), ("90s", .seconds(90)),
        ])
    func roundTrip(text: String, duration: Duration) throws {
        #expect(try DurationText.parse(text) == duration)
        #expect(DurationText.format(duration) == text)
    }

    @Test("the shortest exact form is written")
    func shortest() {
        #expect(DurationText.format(.milliseconds(60_000)) == "1m")
        #expect(DurationText.format(.milliseconds(7_200_000)) == "2h")
        #expect(DurationText.format(.milliseconds(61_000)) == "61s")
        #expect(DurationText.format(.milliseconds(0)) == "0s")
    }

    @Test("a bare number asks for a unit")
    func bareNumber() {
        let error = durationError("30")
        #expect(error?.code == .invalidValue)
        #expect(error?.message == "30 has no unit (write 30s for seconds or 30ms for milliseconds; units: ms, s, m, h)")
    }

    @Test("malformed durations are rejected", arguments: ["", "s", "5 s", "-5s", "1.5s", "5sec", "99999999999999999h"])
    func malformed(text: String) {
        let error = durationError(text)
        #expect(error?.code == .invalidValue)
    }
}

@Suite("planbus.yaml: editing")
struct ConfigEditorTests {
    @Test("changing the template keeps every other line")
    func keepsComments() throws {
        let folder = try ConfigFolder()
        let before = ConfigTemplate.text(bus: "bus")
        try folder.write(before)
        try ConfigEditor.setRole("builder", agent: "claude", model: "claude-sonnet-4", inFile: folder.file)
        let after = try folder.read()
        let old = before.split(separator: "\n", omittingEmptySubsequences: false)
        let new = after.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(old.count == new.count)
        let changed = zip(old, new).filter { $0 != $1 }
        #expect(changed.map { String($0.1) } == ["    agent: claude", "    model: claude-sonnet-4"])
        let builder = try #require(try ConfigLoader.load(path: folder.file).role("builder"))
        #expect(builder.agent == "claude")
        #expect(builder.model == "claude-sonnet-4")
        #expect(builder.instances == 2)
    }

    @Test("a value's comment stays after the new value")
    func keepsTrailingComment() throws {
        let folder = try ConfigFolder()
        try folder.write("roles:\n  planner:\n    agent: none   # offline for now\n    model: \"x # y\"  # quoted\n")
        try ConfigEditor.setRole("planner", agent: "codex", model: "gpt-5", inFile: folder.file)
        #expect(
            try folder.read()
                == "roles:\n  planner:\n    agent: codex   # offline for now\n    model: gpt-5  # quoted\n")
    }

    @Test("missing keys are inserted with the role's indentation")
    func insertsMissingKeys() throws {
        let folder = try ConfigFolder()
        try folder.write(
            "# roles\nroles:\n    builder:    # the builders\n        instances: 3\n        env: {A: b}\n    docs:\n")
        try ConfigEditor.setRole("builder", agent: "aider", model: "o3", inFile: folder.file)
        #expect(
            try folder.read()
                == "# roles\nroles:\n    builder:    # the builders\n        instances: 3\n        agent: aider\n"
                + "        model: o3\n        env: {A: b}\n    docs:\n")
        try ConfigEditor.setRole("docs", agent: nil, model: "4", inFile: folder.file)
        #expect(try folder.read().hasSuffix("    docs:\n        model: \"4\"\n"))
        #expect(try ConfigLoader.load(path: folder.file).role("docs")?.model == "4")
    }

    @Test("a missing role is added at the end of roles:")
    func addsMissingRole() throws {
        let folder = try ConfigFolder()
        try folder.write(
            "roles:\n  planner:\n    instances: 1\n  # judge comes later\n\nsupervisor:\n  stop_grace: 5s\n")
        try ConfigEditor.setRole("judge", agent: "gemini", model: nil, inFile: folder.file)
        #expect(
            try folder.read()
                == "roles:\n  planner:\n    instances: 1\n  judge:\n    agent: gemini\n  # judge comes later\n\n"
                + "supervisor:\n  stop_grace: 5s\n")
        let config = try ConfigLoader.load(path: folder.file)
        #expect(config.roles.map(\.name) == ["planner", "judge"])
    }

    @Test("a file without roles: gets the five product roles, then the change")
    func addsRolesSection() throws {
        let folder = try ConfigFolder()
        try folder.write("# mine\nbus: b\n\n\n")
        try ConfigEditor.setRole("verifier", agent: "claude", model: "opus", inFile: folder.file)
        let text = try folder.read()
        #expect(
            text.hasPrefix("# mine\nbus: b\n\nroles:\n  planner:\n    instances: 1\n  builder:\n    instances: 2\n"))
        let config = try ConfigLoader.load(path: folder.file)
        #expect(config.roles.map(\.name) == ["planner", "builder", "verifier", "judge", "docs"])
        #expect(config.roles.map(\.instances) == RoleConfig.productDefaults.map(\.instances))
        #expect(config.role("verifier")?.agent == "claude")
        #expect(config.role("verifier")?.model == "opus")
        #expect(config.role("planner")?.agent == "none")
    }

    @Test("an empty roles: key keeps the product roles when one is changed")
    func fillsEmptyRolesSection() throws {
        let folder = try ConfigFolder()
        try folder.write("roles:   # all defaults\n  # builder:\nversion: 1\n")
        try ConfigEditor.setRole("docs", agent: "openai", model: nil, inFile: folder.file)
        let config = try ConfigLoader.load(path: folder.file)
        #expect(config.roles.map(\.name) == ["planner", "builder", "verifier", "judge", "docs"])
        #expect(config.role("docs")?.agent == "openai")
        #expect(try folder.read().hasPrefix("roles:   # all defaults\n  planner:\n"))
    }

    @Test("a role written without a value gets its keys")
    func fillsNullRole() throws {
        let folder = try ConfigFolder()
        try folder.write("roles:\n  judge:\n  docs: ~\n")
        try ConfigEditor.setRole("docs", agent: "anthropic", model: nil, inFile: folder.file)
        #expect(try folder.read() == "roles:\n  judge:\n  docs:\n    agent: anthropic\n")
    }

    @Test(
        "an invalid change is refused and the file left byte for byte",
        arguments: [("builder", "claud"), ("tester", "none")])
    func refusesInvalid(role: String, agent: String) throws {
        let folder = try ConfigFolder()
        let before = ConfigTemplate.text(bus: "bus") + "# end\n"
        try folder.write(before)
        let error = launcherError { () throws(LauncherError) in
            try ConfigEditor.setRole(role, agent: agent, model: nil, inFile: folder.file)
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.hasPrefix("\(folder.file) left unchanged: the change would make it invalid: ") == true)
        #expect(error?.message.contains("roles.\(role)") == true)
        #expect(try folder.read() == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(leftovers == ["planbus.yaml"])
    }

    @Test("an invalid role name is refused")
    func refusesRoleName() throws {
        let folder = try ConfigFolder()
        try folder.write("bus: b\n")
        let error = launcherError { () throws(LauncherError) in
            try ConfigEditor.setRole("Bad Name", agent: "claude", model: nil, inFile: folder.file)
        }
        #expect(error?.code == .invalidArgument)
        #expect(try folder.read() == "bus: b\n")
    }

    @Test("a missing file is notFound")
    func missingFile() throws {
        let folder = try ConfigFolder()
        let error = launcherError { () throws(LauncherError) in
            try ConfigEditor.setRole("builder", agent: "claude", model: nil, inFile: folder.file)
        }
        #expect(error?.code == .notFound)
        #expect(!FileManager.default.fileExists(atPath: folder.file))
    }

    @Test("the file keeps its mode, and a symbolic link stays a link")
    func keepsModeAndLink() throws {
        let folder = try ConfigFolder()
        try folder.write("roles:\n  builder:\n    agent: none\n")
        #expect(chmod(folder.file, 0o640) == 0)
        let link = folder.path + "/link.yaml"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.file)
        try ConfigEditor.setRole("builder", agent: "codex", model: nil, inFile: link)
        var info = stat()
        #expect(stat(folder.file, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o640)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == folder.file)
        #expect(try folder.read() == "roles:\n  builder:\n    agent: codex\n")
    }

    @Test("CRLF line ends are kept")
    func keepsCRLF() throws {
        let folder = try ConfigFolder()
        try folder.write("roles:\r\n  builder:\r\n    instances: 1\r\n")
        try ConfigEditor.setRole("builder", agent: "claude", model: nil, inFile: folder.file)
        #expect(try folder.read() == "roles:\r\n  builder:\r\n    instances: 1\r\n    agent: claude\r\n")
    }

    @Test("a role written on one line is left for the user to edit")
    func refusesFlowRole() throws {
        let folder = try ConfigFolder()
        let before = "roles:\n  builder: {instances: 2}\n"
        try folder.write(before)
        let error = launcherError { () throws(LauncherError) in
            try ConfigEditor.setRole("builder", agent: "claude", model: nil, inFile: folder.file)
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.contains("roles.builder is written on one line") == true)
        #expect(try folder.read() == before)
    }
}

/// The error reading `text` as a duration gives, if any.
func durationError(_ text: String) -> FileFormatError? {
    do {
        _ = try DurationText.parse(text)
        return nil
    } catch {
        return error
    }
}
