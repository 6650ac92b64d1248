import Bus
import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Bad plan files given to the real `planbus submit` binary: each is refused with exit 3 and one
/// error line that names the file, line, column and field and says what is wrong, before anything
/// is sent; the backlog folder refuses the same files with the same message beside them.
@Suite("planbus submit: bad plan files", .timeLimit(.minutes(5)))
struct PlanInputTests {
    /// A temporary folder with a git repository `repo` (holding a symbolic link `etc` to `/etc`, a
    /// link `inside` to its own folder `src`, and a dangling link `gone` out of it), a folder
    /// `notgit` and the plans; removed when the value is released.
    final class Folder: Sendable {
        let path: String

        init() async throws {
            path = FileManager.default.temporaryDirectory.path + "/planbus-input-" + UUID().uuidString.prefix(8)
            let fm = FileManager.default
            try fm.createDirectory(atPath: path + "/repo/src", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: path + "/notgit", withIntermediateDirectories: true)
            let git = try await runCommand(["git", "init", "-q", path + "/repo"])
            try #require(git.code == 0, "git init: \(git.stderr)")
            try fm.createSymbolicLink(atPath: path + "/repo/etc", withDestinationPath: "/etc")
            try fm.createSymbolicLink(atPath: path + "/repo/inside", withDestinationPath: "src")
            try fm.createSymbolicLink(atPath: path + "/repo/gone", withDestinationPath: "../../nowhere")
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// Writes `bytes` as the plan `name` and returns its path.
        func write(_ bytes: [UInt8], _ name: String = "plan.yaml") throws -> String {
            let file = path + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            return file
        }
    }

    /// The top of a valid plan, lines 1 to 5; `tasks:` follows on line 6.
    static let header = "version: 1\nname: demo\ngoal: Show.\nrisk: low\nrepository: repo\n"

    /// A task on lines 7 to 10 after `header` and `tasks:`.
    static func task(_ id: String = "a", scope: String = "[src/**]", _ extra: String = "") -> String {
        "  - id: \(id)\n    title: T\n    prompt: Do it.\n    scope: \(scope)\n" + extra
    }

    /// A bad plan, where its error is (`LINE:COLUMN: FIELD`, or nothing for the file as a whole)
    /// and words the message must hold.
    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let place: String?
        let says: [String]

        init(_ name: String, _ text: String, at place: String?, says: [String]) {
            self.init(name, Array(text.utf8), at: place, says: says)
        }

        init(_ name: String, _ bytes: [UInt8], at place: String?, says: [String]) {
            self.name = name
            self.bytes = bytes
            self.place = place
            self.says = says
        }

        var testDescription: String { name }
    }

    static let long = String(repeating: "x", count: 10_000)

    static let bads: [Bad] = [
        // YAML that does not parse.
        Bad(
            "bad indentation", header + "tasks:\n  - id: a\n   title: A\n", at: "8:4",
            says: ["invalid YAML: did not find expected '-' indicator"]),
        Bad(
            "an unterminated quote", "version: 1\nname: \"demo\ngoal: Show.\nrisk: low\nrepository: repo\n", at: "2:7",
            says: ["invalid YAML: the quoted text that starts here is never closed"]),
        Bad(
            "tab indentation", header + "tasks:\n\t- id: a\n", at: "7:1",
            says: ["invalid YAML", "YAML does not allow tabs for indentation: indent with spaces"]),
        Bad(
            "a duplicate key", header + "tasks:\n" + task() + "    title: again\n", at: "11:5: tasks[0].title",
            says: ["duplicate key \"title\" (first at line 8); write each key once"]),
        Bad(
            "a duplicate top-level key", header + "risk: high\ntasks:\n" + task(), at: "6:1: risk",
            says: ["duplicate key \"risk\" (first at line 4)"]),
        // Values of the wrong type.
        Bad(
            "a string where a list is", header + "tasks:\n" + task(scope: "src/**"), at: "10:12: tasks[0].scope",
            says: ["must be a list such as [\"src/**\"], got \"src/**\""]),
        Bad(
            "a number where a mapping is", header + "budget: 5\ntasks:\n" + task(), at: "6:9: budget",
            says: ["must be a mapping", "got 5"]),
        Bad(
            "a mapping where a list is", header + "tasks:\n" + task("a", "    depends_on: {b: c}\n"),
            at: "11:17: tasks[0].depends_on", says: ["must be a list such as [api], got a mapping"]),
        Bad(
            "a negative timeout",
            header + "tasks:\n" + task("a", "    gates:\n      - name: t\n        command: x\n        timeout: -5s\n"),
            at: "14:18: tasks[0].gates[0].timeout", says: ["must be a duration such as 250ms", "got \"-5s\""]),
        Bad(
            "a negative candidate count", header + "tasks:\n" + task("a", "    candidates: -1\n"),
            at: "11:17: tasks[0].candidates", says: ["must be an integer from 1 to 8, got -1"]),
        // Dependencies and fields.
        Bad(
            "a dependency cycle",
            header + "tasks:\n" + task("a", scope: "[a/**]", "    depends_on: [b]\n")
                + task("b", scope: "[b/**]", "    depends_on: [c]\n")
                + task("c", scope: "[c/**]", "    depends_on: [a]\n"),
            at: "11:18: tasks[0].depends_on[0]", says: ["dependency cycle a → b → c → a"]),
        Bad(
            "an unknown field", header + "tasks:\n" + task("a", "    depend_on: [b]\n"), at: "11:5: tasks[0].depend_on",
            says: ["unknown key, did you mean \"depends_on\"?", "(known keys: id, title,"]),
        Bad(
            "an unknown top-level field", header + "taks:\n" + task(), at: "6:1: taks",
            says: ["unknown key, did you mean \"tasks\"?"]),
        // Values too long to repeat.
        Bad(
            "a task id of 10,000 characters", header + "tasks:\n" + task(long), at: "7:9: tasks[0].id",
            says: ["must be a task id", "got \"" + String(long.prefix(80)) + "…\" (10000 characters)"]),
        Bad(
            "a dependency of 10,000 characters", header + "tasks:\n" + task("a", "    depends_on: [\(long)]\n"),
            at: "11:18: tasks[0].depends_on[0]",
            says: ["depends on \"" + String(long.prefix(80)) + "…\" (10000 characters), which is not a task"]),
        Bad(
            "a scope glob of 10,000 characters going up", header + "tasks:\n" + task(scope: "[\"../\(long)\"]"),
            at: "10:13: tasks[0].scope[0]", says: ["(10003 characters) has a \"..\" part"]),
        // Scopes that leave the repository.
        Bad(
            "a scope going up", header + "tasks:\n" + task(scope: "[../x]"), at: "10:13: tasks[0].scope[0]",
            says: ["\"../x\" has a \"..\" part, which could leave the repository"]),
        Bad(
            "an absolute scope", header + "tasks:\n" + task(scope: "[src/**, /etc/**]"), at: "10:21: tasks[0].scope[1]",
            says: ["\"/etc/**\" is an absolute path; globs are relative to the repository"]),
        Bad(
            "a scope through a symlinked folder leading out", header + "tasks:\n" + task(scope: "[src/**, etc/**]"),
            at: "10:21: tasks[0].scope[1]",
            says: ["\"etc/**\" goes through etc, a symbolic link to /etc, outside the repository"]),
        Bad(
            "a scope through a dangling link leading out", header + "tasks:\n" + task(scope: "[gone/x.txt]"),
            at: "10:13: tasks[0].scope[0]",
            says: ["goes through gone, a symbolic link to", "nowhere, outside the repository"]),
        // The repository.
        Bad(
            "a repository that is not git",
            header.replacingOccurrences(of: "repository: repo", with: "repository: notgit") + "tasks:\n" + task(),
            at: "5:13: repository", says: ["notgit is not a git repository (it has no .git)"]),
        // Unicode.
        Bad(
            "a column after wide characters",
            header + "tasks:\n  - {title: \"日本語 🎉 é\", id: a, prompt: p, scope: [a], candidates: 9}\n",
            at: "7:66: tasks[0].candidates", says: ["must be an integer from 1 to 8, got 9"]),
        Bad(
            "a task id that is not ASCII", header + "tasks:\n" + task("tâche"), at: "7:9: tasks[0].id",
            says: ["must be a task id: an ASCII letter or digit", "got \"tâche\""]),
        Bad(
            "a gate name that is not ASCII", header + "gates:\n  - {name: prüfung, command: x}\ntasks:\n" + task(),
            at: "7:12: gates[0].name", says: ["must be a gate name: an ASCII letter or digit", "got \"prüfung\""]),
        // Files that are no plans.
        Bad("an empty file", [], at: "1:1", says: ["the plan is empty"]),
        Bad(
            "a file that is not UTF-8", Array("version: 1\nname: caf".utf8) + [0xE9] + Array("\n".utf8), at: "2:10",
            says: ["not UTF-8 text: byte 0xE9 (at byte 20) is not part of a UTF-8 character; save the file as UTF-8"]),
        Bad(
            "a Latin-1 byte after UTF-8 characters", Array("version: 1\nname: \"日本\u{e9}".utf8) + [0xFF], at: "2:11",
            says: ["not UTF-8 text: byte 0xFF"]),
    ]

    /// Runs `planbus submit ARGS` in `folder` with no bus around.
    static func submit(_ args: [String], in folder: Folder) async throws -> CommandResult {
        var env = ProcessInfo.processInfo.environment
        env["PLANBUS_BUS"] = folder.path + "/no-bus"
        return try await runCommand([Executables.planbus, "submit"] + args, environment: env, directory: folder.path)
    }

    /// Checks that `result` is a refusal of `file` as `bad` says: exit 3, nothing on stdout, one
    /// line on stderr with the place and the words.
    static func expectRefused(_ result: CommandResult, _ file: String, _ bad: Bad) {
        #expect(result.code == 3, "\(bad.name): exit \(result.code), stderr: \(result.stderr)")
        #expect(result.stdout.isEmpty)
        let prefix = "planbus: " + file + (bad.place.map { ":" + $0 + ":" } ?? ":")
        #expect(result.stderr.hasPrefix(prefix), "\(bad.name): \(result.stderr.prefix(400)) does not start \(prefix)")
        for words in bad.says {
            #expect(result.stderr.contains(words), "\(bad.name): \(result.stderr.prefix(600)) does not say \(words)")
        }
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr.prefix(600))")
        #expect(result.stderr.count < 1_000, "\(bad.name): a \(result.stderr.count)-character message")
    }

    @Test(
        "submit --dry-run refuses each bad plan: exit 3, with the file, line, column, field and what is wrong",
        arguments: bads)
    func dryRun(_ bad: Bad) async throws {
        let folder = try await Folder()
        let file = try folder.write(bad.bytes)
        Self.expectRefused(try await Self.submit([file, "--dry-run"], in: folder), file, bad)
    }

    @Test("submit without --dry-run refuses them the same way, before it looks for a bus", arguments: bads.prefix(6))
    func submitWithoutDryRun(_ bad: Bad) async throws {
        let folder = try await Folder()
        let file = try folder.write(bad.bytes)
        // A relative path is reported absolute.
        Self.expectRefused(try await Self.submit(["plan.yaml"], in: folder), file, bad)
    }

    @Test("a plan that is a folder, a FIFO or a 10 MB file is refused as a whole, without reading it all")
    func notAPlanFile() async throws {
        let folder = try await Folder()
        let directory = folder.path + "/folder.yaml"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let fifo = folder.path + "/fifo.yaml"
        try #require(mkfifo(fifo, 0o600) == 0)
        var big = Self.header + "tasks:\n"
        var n = 0
        while big.utf8.count < 10 << 20 {
            big += Self.task("t\(n)", scope: "[t\(n)/**]")
            n += 1
        }
        let large = try folder.write(Array(big.utf8), "large.yaml")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: large)[.size] as? Int)

        for (file, words) in [
            (directory, "is a folder, not a file; give the path of a YAML file"),
            (fifo, "is a FIFO, not a file"),
            (large, "the file is \(size) bytes, over the limit of 1048576 bytes; a plan travels in one bus envelope"),
        ] {
            let result = try await Self.submit([file, "--dry-run"], in: folder)
            Self.expectRefused(result, file, Bad("", "", at: nil, says: [words]))
        }
    }

    @Test("unicode in names, titles, prompts and scopes is accepted, and shown as written")
    func unicodeAccepted() async throws {
        let folder = try await Folder()
        let file = try folder.write(
            Array(
                """
                version: 1
                name: "Suche 検索 🔎"
                goal: Ünïcödé everywhere — 日本語.
                risk: low
                repository: repo
                tasks:
                  - id: a
                    title: "Überschrift 日本語 🎉"
                    prompt: |
                      Schreibe ünïcödé 日本語 🎉 und é (e + U+0301 combining).
                    scope: ["docs/日本語/**", "é.txt", "inside/**"]
                """.utf8))
        let result = try await Self.submit([file, "--dry-run"], in: folder)
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Plan \"Suche 検索 🔎\""))
        #expect(result.stdout.contains("Task a (wave 1): Überschrift 日本語 🎉"))
        #expect(result.stdout.contains("scope: docs/日本語/**, é.txt, inside/**"), "a link inside the repository is fine")
    }

    @Test("the backlog folder refuses the same plans, with the same message beside each")
    func backlogRefuses() async throws {
        let folder = try await Folder()
        let bus = folder.path + "/bus"
        let created = try await runCommand([Executables.planbus, "init", "--no-config", bus])
        try #require(created.code == 0, "\(created.stderr)")
        let inbox = folder.path + "/inbox"
        let picked = Self.bads.filter {
            ["bad indentation", "a dependency cycle", "a task id of 10,000 characters", "a file that is not UTF-8"]
                .contains($0.name)
        }
        try #require(picked.count == 4)
        let planner = try ChildProcess.spawn(
            [
                Executables.planbus, "role", "planner", "--bus", bus, "--agent", "none", "--envelope-timeout", "1m",
                "--stop-grace", "1s", "--backlog", inbox,
            ], stdout: .file(folder.path + "/planner.log"), stderr: .file(folder.path + "/planner.log"))
        #expect(await eventually { FileManager.default.fileExists(atPath: inbox + "/refused") })
        for (index, bad) in picked.enumerated() {
            // Written beside the folder and moved in, as a file should be dropped; `repository: repo`
            // is then relative to the backlog folder, so each plan names `../repo`.
            let text = String(decoding: bad.bytes, as: UTF8.self)
            var bytes = bad.bytes
            if text.contains("repository: repo") {
                bytes = Array(text.replacingOccurrences(of: "repository: repo", with: "repository: ../repo").utf8)
            }
            let staged = try folder.write(bytes, "drop\(index).yaml")
            try FileManager.default.moveItem(atPath: staged, toPath: inbox + "/drop\(index).yaml")
        }
        let refused = inbox + "/refused"
        let arrived = await eventually {
            ((try? FileManager.default.contentsOfDirectory(atPath: refused)) ?? []).count == 2 * picked.count
        }
        planner.send(SIGTERM)
        #expect(await planner.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(arrived, "refused/ holds \((try? FileManager.default.contentsOfDirectory(atPath: refused)) ?? [])")
        for (index, bad) in picked.enumerated() {
            let file = inbox + "/drop\(index).yaml"
            let error = (try? String(contentsOfFile: refused + "/drop\(index).yaml.error", encoding: .utf8)) ?? ""
            let prefix = file + (bad.place.map { ":" + $0 + ":" } ?? ":")
            #expect(error.hasPrefix(prefix), "\(bad.name): \(error.prefix(400))")
            for words in bad.says { #expect(error.contains(words), "\(bad.name): \(error.prefix(400))") }
            #expect(error.count < 1_000)
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: inbox + "/submitted")) ?? []).isEmpty)
    }
}
