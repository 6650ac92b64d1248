import Bus
import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A bus shared by a Unix group: two real users, each running its own processes under a umask of
/// 077, claim and ack each other's envelopes, signed with a key the group can read.
@Suite("Shared bus", .serialized)
struct SharedBusTests {
    static let group = "planbus-test"
    static let userA = "planbus-test-a"
    static let userB = "planbus-test-b"

    /// Switching users needs root, setpriv, and the user tools (the users are made when missing).
    static let canSwitchUsers =
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        && FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd")

    /// Makes the group and the two users (members of it) unless they exist.
    static func ensureUsers() async throws {
        if getgrnam(group) == nil {
            let made = try await runCommand(["/usr/sbin/groupadd", "-f", group])
            try #require(made.code == 0, "groupadd: \(made.stderr)")
        }
        for user in [userA, userB] where getpwnam(user) == nil {
            let made = try await runCommand([
                "/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", group, user,
            ])
            try #require(made.code == 0 || getpwnam(user) != nil, "useradd \(user): \(made.stderr)")
        }
    }

    /// `arguments` run as `user`, with its groups and a umask of 077.
    static func asUser(_ user: String, _ arguments: [String]) -> [String] {
        [
            "/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(getpwnam(user)!.pointee.pw_gid)", "--init-groups",
            "/bin/sh", "-c",
            "umask 077; exec \"$@\"", "sh",
        ] + arguments
    }

    static func id(of user: String) -> uid_t { getpwnam(user)!.pointee.pw_uid }

    @Test(
        "two users on a group bus: folders 02770, files 0660 of the group; each claims and acks the other's signed envelopes",
        .enabled(if: canSwitchUsers, "needs root, setpriv (util-linux) and useradd (passwd)"))
    func twoUsers() async throws {
        try await Self.ensureUsers()
        let gid = getgrnam(Self.group)!.pointee.gr_gid
        // A folder both users may make files in, like /tmp; the bus inside belongs to the group.
        let shared = "/tmp/planbus-shared-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shared) }
        #expect(chmod(shared, 0o1777) == 0)
        let bus = shared + "/bus"
        let key = shared + "/bus.key"
        try Data("a key the group shares, 32 bytes\n".utf8).write(to: URL(fileURLWithPath: key))
        #expect(chown(key, Self.id(of: Self.userA), gid) == 0)
        #expect(chmod(key, 0o640) == 0)
        let environment = ["HOME": shared, "PATH": "/usr/bin:/bin", "PLANBUS_WAKE": "poll", "PLANBUS_POLL_MS": "50"]

        let made = try await runCommand(
            Self.asUser(
                Self.userA,
                [
                    Executables.planbus, "init", "--no-config", "--group", Self.group, "--sign-key-file", key, bus,
                    "--json",
                ]),
            environment: environment, directory: shared)
        try #require(made.code == 0, "init: \(made.stderr)")
        let settings = try JSONValue.parse(made.stdout)["settings"]
        #expect(settings?["group"] == .string(Self.group))
        #expect(settings?["sign_key_file"] == .string(key))

        // A works the "work" queue and answers to "back"; B works "back".
        func worker(_ user: String, role: String, emit: String?) throws -> ChildProcess {
            var args = [
                Executables.testWorker, "work", "--bus", bus, "--role", role, "--out", shared + "/" + role + ".out",
            ]
            if let emit { args += ["--emit", emit] }
            return try ChildProcess.spawn(
                Self.asUser(user, args), environment: environment, directory: shared,
                stdout: .file(shared + "/" + role + ".log"), stderr: .file(shared + "/" + role + ".log"))
        }
        let workerA = try worker(Self.userA, role: "work", emit: "back")
        defer { workerA.send(SIGKILL) }
        let workerB = try worker(Self.userB, role: "back", emit: nil)
        defer { workerB.send(SIGKILL) }
        #expect(await eventually { lines(of: shared + "/work.out").contains { $0.hasPrefix("started ") } })
        #expect(await eventually { lines(of: shared + "/back.out").contains { $0.hasPrefix("started ") } })

        // B publishes to A's queue, by hand.
        let sent = try await runCommand(
            Self.asUser(
                Self.userB,
                [Executables.planbus, "send", "--bus", bus, "--to", "work", "--kind", "item", "--run", "r1", "--json"]),
            environment: environment, directory: shared)
        try #require(sent.code == 0, "send: \(sent.stderr)")
        let id = try #require(try JSONValue.parse(sent.stdout)["id"]?.stringValue)
        #expect(await eventually { lines(of: shared + "/work.out").contains { $0.hasPrefix("processed \(id) ") } })
        // A's answer, published as A, is claimed and acked by B.
        #expect(await eventually { lines(of: shared + "/back.out").contains { $0.hasPrefix("processed ") } })

        workerA.send(SIGTERM)
        workerB.send(SIGTERM)
        #expect(await workerA.wait(timeout: testProcessTimeout).exit == .exited(0))
        #expect(await workerB.wait(timeout: testProcessTimeout).exit == .exited(0))

        // Everything on the bus belongs to the group, with the group's modes, made by both users.
        var wrong: [String] = []
        var owners: Set<uid_t> = []
        func walk(_ path: String) {
            var st = stat()
            guard lstat(path, &st) == 0 else { return }
            owners.insert(st.st_uid)
            let mode = st.st_mode & 0o7777
            let isFolder = (st.st_mode & S_IFMT) == S_IFDIR
            if st.st_gid != gid { wrong.append("\(path) group \(st.st_gid)") }
            let expected: mode_t =
                path == bus
                ? 0o3770 : ([bus + "/bus.json", bus + "/VERSION"].contains(path) ? 0o640 : (isFolder ? 0o2770 : 0o660))
            if mode != expected { wrong.append("\(path) mode 0\(String(mode, radix: 8))") }
            if isFolder {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                    walk(path + "/" + name)
                }
            }
        }
        walk(bus)
        #expect(wrong.isEmpty, "entries with another group or mode:\n\(wrong.joined(separator: "\n"))")

        // Only the bus's owner can change what the bus is: B can neither rewrite bus.json (to turn
        // signing off) nor rename another file over it.
        let settingsBefore = try String(contentsOfFile: bus + "/bus.json", encoding: .utf8)
        let rewrite = try await runCommand(
            Self.asUser(Self.userB, ["/bin/sh", "-c", "echo '{}' > \"$0\"", bus + "/bus.json"]),
            environment: environment, directory: shared)
        #expect(rewrite.code != 0)
        let replace = try await runCommand(
            Self.asUser(
                Self.userB,
                [
                    "/bin/sh", "-c",
                    "echo '{}' > \"$0/q/work/mine.json\" && mv -f \"$0/q/work/mine.json\" \"$0/bus.json\"", bus,
                ]),
            environment: environment, directory: shared)
        #expect(replace.code != 0)
        #expect(try String(contentsOfFile: bus + "/bus.json", encoding: .utf8) == settingsBefore)
        #expect(owners.isSuperset(of: [Self.id(of: Self.userA), Self.id(of: Self.userB)]), "owners \(owners)")
        for role in ["work", "back"] {
            let dead = (try? FileManager.default.contentsOfDirectory(atPath: bus + "/q/\(role)/dead")) ?? []
            #expect(dead.isEmpty, "dead letters of \(role): \(dead)")
            // Each acked envelope is signed, by the other user's process.
            let days = try FileManager.default.contentsOfDirectory(atPath: bus + "/q/\(role)/done")
            let files = try days.flatMap { day in
                try FileManager.default.contentsOfDirectory(atPath: bus + "/q/\(role)/done/" + day).map {
                    bus + "/q/\(role)/done/" + day + "/" + $0
                }
            }
            #expect(files.count == 1, "\(role): \(files)")
            for file in files {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                #expect(text.contains(",\"sig\":\"hmac-sha256:main:"), "\(text)")
            }
        }
    }

    @Test(
        "init refuses a group its user is not in, and a group that does not exist, before making anything",
        .enabled(if: canSwitchUsers, "needs root, setpriv (util-linux) and useradd (passwd)"))
    func outsiders() async throws {
        try await Self.ensureUsers()
        let shared = "/tmp/planbus-shared-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shared) }
        #expect(chmod(shared, 0o1777) == 0)
        // nobody is not in planbus-test.
        let refused = try await runCommand(
            Self.asUser(
                "nobody", [Executables.planbus, "init", "--no-config", "--group", Self.group, shared + "/bus"]),
            environment: ["HOME": shared, "PATH": "/usr/bin:/bin"], directory: shared)
        #expect(refused.code == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("not a member of the group \"\(Self.group)\""), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: shared + "/bus"))
        let unknown = try await runCommand(
            [Executables.planbus, "init", "--no-config", "--group", "planbus-no-such-group", shared + "/other"])
        #expect(unknown.code == 3, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("no Unix group"), "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: shared + "/other"))
    }
}
