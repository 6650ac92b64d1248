import Bus
import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every file and folder on a private bus is the owner's alone (0600 and 0700), whatever the
/// umask of the processes that made them.
@Suite("Bus permissions", .serialized)
struct PermissionTests {
    /// Every entry under `root` whose mode is not `directoryMode` (folders) or `fileMode` (files),
    /// or that is neither: `path mode` lines.
    static func exceptions(under root: String, directoryMode: mode_t = 0o700, fileMode: mode_t = 0o600) -> [String] {
        var found: [String] = []
        func walk(_ path: String) {
            var st = stat()
            guard lstat(path, &st) == 0 else { return }
            let mode = st.st_mode & 0o7777
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if mode != directoryMode { found.append("\(path) folder 0\(String(mode, radix: 8))") }
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                    walk(path + "/" + name)
                }
            case S_IFREG:
                if mode != fileMode { found.append("\(path) file 0\(String(mode, radix: 8))") }
            default:
                found.append("\(path) is neither a file nor a folder (mode 0\(String(st.st_mode, radix: 8)))")
            }
        }
        walk(root)
        return found.map { String($0.dropFirst(root.count)) }
    }

    /// `arguments` run under `sh` with umask 000.
    static func underUmask000(_ arguments: [String]) -> [String] {
        ["/bin/sh", "-c", "umask 000; exec \"$@\"", "sh"] + arguments
    }

    @Test("planbus init makes folders 0700 and files 0600 under umask 000")
    func initUnderOpenUmask() async throws {
        let folder = FileManager.default.temporaryDirectory.path + "/planbus-perm-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await runCommand(
            Self.underUmask000([Executables.planbus, "init", "--no-config", folder + "/bus"]))
        #expect(result.code == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/bus/VERSION"))
        let wrong = Self.exceptions(under: folder + "/bus")
        #expect(wrong.isEmpty, "entries with other modes:\n\(wrong.joined(separator: "\n"))")
    }

    @Test("init keeps an existing bus's sharing, and refuses a bad key file or option before writing anything")
    func initRefusals() async throws {
        let folder = FileManager.default.temporaryDirectory.path + "/planbus-perm-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bus = folder + "/bus"
        #expect(try await runCommand([Executables.planbus, "init", "--no-config", bus]).code == 0)
        let before = try String(contentsOfFile: bus + "/bus.json", encoding: .utf8)
        let regroup = try await runCommand([Executables.planbus, "init", "--no-config", "--group", "staff", bus])
        #expect(regroup.code == 3, "\(regroup.stderr)")
        #expect(regroup.stderr.contains("already exists as a private bus"), "\(regroup.stderr)")
        let key = folder + "/bus.key"
        try Data("0123456789abcdef0123456789abcdef".utf8).write(to: URL(fileURLWithPath: key))
        #expect(chmod(key, 0o644) == 0)
        let open = try await runCommand([Executables.planbus, "init", "--no-config", "--sign-key-file", key, bus])
        #expect(open.code == 3, "\(open.stderr)")
        #expect(open.stderr.contains("chmod 0600"), "\(open.stderr)")
        let idOnly = try await runCommand([Executables.planbus, "init", "--no-config", "--sign-key-id", "k2", bus])
        #expect(idOnly.code == 64, "\(idOnly.stderr)")
        #expect(try String(contentsOfFile: bus + "/bus.json", encoding: .utf8) == before)
        #expect(chmod(key, 0o600) == 0)
        let on = try await runCommand([Executables.planbus, "init", "--no-config", "--sign-key-file", key, bus])
        #expect(on.code == 0, "\(on.stderr)")
        #expect(on.stdout.contains("envelopes signed with key main"), "\(on.stdout)")
        let settings = try JSONValue.parse(String(contentsOfFile: bus + "/bus.json", encoding: .utf8))
        #expect(settings["sign_key_file"] == .string(key))
        #expect(settings["sign_key_id"] == "main")
        // Once on, what planbus send publishes is signed.
        let sent = try await runCommand([Executables.planbus, "send", "--bus", bus, "--to", "work", "--kind", "x"])
        #expect(sent.code == 0, "\(sent.stderr)")
        let pending = try FileManager.default.contentsOfDirectory(atPath: bus + "/q/work/new")
        let text = try String(contentsOfFile: bus + "/q/work/new/" + #require(pending.first), encoding: .utf8)
        #expect(text.contains(",\"sig\":\"hmac-sha256:main:"), "\(text)")
    }

    @Test(
        "an offline plan run under planbus up with umask 000 leaves every folder 0700 and every file 0600; signed, every envelope is",
        arguments: [false, true])
    func runUnderOpenUmask(signed: Bool) async throws {
        let session = try await SessionFixture(
            roles: """
                  planner:
                  builder:
                  verifier:
                  judge:
                  docs:
                """)
        let repo = session.root + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try "start\n".write(toFile: repo + "/README", atomically: true, encoding: .utf8)
        let git = ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        for step in [["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "start"]] {
            let done = try await runCommand(git + step)
            try #require(done.code == 0, "git \(step): \(done.stderr)")
        }
        let plan = session.root + "/plan.yaml"
        try """
        version: 1
        name: perm
        goal: a private bus
        risk: low
        repository: repo
        tasks:
          - id: one
            title: write a.txt
            prompt: write a.txt
            scope: [a.txt]
            run: echo a > a.txt
            gates:
              - name: exists
                command: [test, -f, a.txt]
        """.write(toFile: plan, atomically: true, encoding: .utf8)

        if signed {
            // Signing turned on for the existing bus: every process started afterwards signs.
            let key = session.root + "/bus.key"
            try Data("a key for this run only, 32 bytes".utf8).write(to: URL(fileURLWithPath: key))
            #expect(chmod(key, 0o600) == 0)
            let on = try await runCommand(
                [Executables.planbus, "init", "--no-config", "--sign-key-file", key, session.bus.layout.root, "--json"])
            #expect(on.code == 0, "\(on.stderr)")
            #expect(try JSONValue.parse(on.stdout)["updated"] == .bool(true), "\(on.stdout)")
        }
        let up = try ChildProcess.spawn(
            Self.underUmask000([Executables.planbus, "up", "--lines", "--config", session.config]),
            directory: session.root, stdout: .file(session.root + "/up.log"), stderr: .file(session.root + "/up.log"))
        defer { up.send(SIGKILL) }
        let submitted = try await runCommand(
            Self.underUmask000([
                Executables.planbus, "submit", plan, "--wait", "--json", "--run", "perm1", "--config", session.config,
            ]), directory: session.root)
        #expect(submitted.code == 0, "\(submitted.stdout)\n\(submitted.stderr)")
        let status = try JSONValue.parse(
            String(contentsOfFile: session.bus.layout.run("perm1") + "/status.json", encoding: .utf8))
        #expect(status["tasks"]?.arrayValue?.first?["state"] == "integrated", "\(status)")
        // The run went through the roles' logs, the journal, heartbeats, work trees and handoff.
        let made = FileManager.default.enumerator(atPath: session.bus.layout.root)?.allObjects.count ?? 0
        #expect(made > 50, "only \(made) entries on the bus")
        let stop = try await runCommand(
            Self.underUmask000([Executables.planbus, "down", "--config", session.config]), directory: session.root)
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(await up.wait(timeout: testProcessTimeout).exit == .exited(0))

        let wrong = Self.exceptions(under: session.bus.layout.root)
        #expect(wrong.isEmpty, "entries with other modes:\n\(wrong.joined(separator: "\n"))")
        if signed { try Self.expectAllSigned(session.bus.layout) }
    }

    /// Every envelope acked on the bus carries a signature, and nothing was dead-lettered.
    static func expectAllSigned(_ layout: BusLayout) throws {
        var acked = 0
        for role in try FileManager.default.contentsOfDirectory(atPath: layout.queues) {
            let dead = (try? FileManager.default.contentsOfDirectory(atPath: layout.dead(role))) ?? []
            #expect(dead.isEmpty, "dead letters of \(role): \(dead)")
            for day in (try? FileManager.default.contentsOfDirectory(atPath: layout.done(role))) ?? [] {
                let folder = layout.done(role, day: day)
                for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
                    let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
                    #expect(text.hasSuffix("\"}\n") && text.contains(",\"sig\":\"hmac-sha256:main:"), "\(name)")
                    acked += 1
                }
            }
        }
        #expect(acked >= 5, "only \(acked) envelopes acked")
    }
}
