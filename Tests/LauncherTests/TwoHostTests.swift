import Bus
import BusTesting
import CPlanbusShim
import Foundation
import Processes
import Roles
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two hosts over a real network filesystem: host A runs `planbus up` on the bus folder, host B
/// runs a builder and a verifier by hand (`planbus role … --host hostb`) on a second mount of the
/// same folder through a private `sshd` and `sshfs`, in poll mode. Each run is a plan built and
/// verified on a real git repository.
///
/// Needs `sshd` (Debian: openssh-server), `sshfs` and `fusermount` (sshfs), `/dev/fuse` and root
/// (the private sshd logs in as root by key); without them the suite is skipped.
@Suite("Two hosts over sshfs", .serialized, .enabled(if: SSHFSMount.available, "needs root, sshd, sshfs and /dev/fuse"))
struct TwoHostTests {
    /// Host B's name: both of its role processes run under it.
    static let hostB = "hostb"
    /// Five minutes, the clock skew given to host B.
    static let skew = 300_000

    @Test("a run is shared by both hosts, host B's clock five minutes ahead: no take-over, no fencing")
    func sharedRun() async throws {
        try await TwoHosts.run(tasks: 4) { hosts in
            try await hosts.startHostB(clockOffsetMs: Self.skew)
            let submit = hosts.submit()
            // Each builder holds a build, then each verifier a verification, before either may go on.
            #expect(await hosts.eventually { hosts.holding("builder").count == 2 }, "\(hosts.holders("builder"))")
            hosts.open("build")
            #expect(await hosts.eventually { hosts.holding("verifier").count == 2 }, "\(hosts.holders("verifier"))")
            hosts.open("verify")
            let result = try await submit.value
            #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)\n\(hosts.diagnostics)")
            try await hosts.expectEveryTaskIntegratedOnce()

            let events = hosts.events
            for role in ["builder", "verifier"] {
                for host in [hosts.hostA, Self.hostB] {
                    let acked = events.filter { $0.role == role && $0.event == .ack && hosts.host(of: $0) == host }
                    #expect(!acked.isEmpty, "no \(role) on \(host) acked anything")
                    let claimed = events.filter { $0.role == role && $0.event == .claim && hosts.host(of: $0) == host }
                    #expect(!claimed.isEmpty, "no \(role) on \(host) claimed anything")
                }
            }
            // Host B's clock really was ahead: its journal lines say so. Live claims were never
            // taken over, and no holder was fenced.
            let ahead = events.filter { hosts.host(of: $0) == Self.hostB }.map(\.time.milliseconds)
            #expect(!ahead.isEmpty && ahead.allSatisfy { $0 - Timestamp.now().milliseconds > Int64(Self.skew) / 2 })
            #expect(
                !events.contains { $0.event == .expire || $0.event == .fenced },
                "\(events.filter { $0.event == .expire })")
            #expect(hosts.hostBLog("builder").contains { $0.contains("wake=poll") })
            #expect(hosts.hostBLog("verifier").contains { $0.contains("wake=poll") })
        }
    }

    @Test("host B SIGKILLed while it holds a build, its clock five minutes behind: host A takes the build over")
    func killedHost() async throws {
        try await TwoHosts.run(tasks: 2) { hosts in
            hosts.open("verify")
            let roles = try await hosts.startHostB(clockOffsetMs: -Self.skew)
            let submit = hosts.submit()
            #expect(await hosts.eventually { hosts.holding("builder").count == 2 }, "\(hosts.holders("builder"))")
            let held = try #require(
                hosts.holding("builder").first { hosts.host(of: $0) == Self.hostB }, "\(hosts.diagnostics)")
            for role in roles { role.sendToGroup(SIGKILL) }
            for role in roles { _ = await role.wait(timeout: testProcessTimeout) }
            hosts.open("build")
            let result = try await submit.value
            #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)\n\(hosts.diagnostics)")
            try await hosts.expectEveryTaskIntegratedOnce()
            let expire = try hosts.expectTakenOver(held)
            // Judged by its heartbeat on host A's own clock: the five minutes behind play no part.
            let silent = Int((expire.reason ?? "").split(separator: " ").dropLast().last ?? "") ?? .max
            #expect(silent < Self.skew, "\(expire.reason ?? "")")
            #expect(Timestamp.now().milliseconds - held.time.milliseconds > Int64(Self.skew) / 2)
        }
    }

    @Test("an unnamed file on sshfs, which has no O_TMPFILE, is a named file unlinked at once, gone once closed")
    func unnamedFileOnSSHFS() async throws {
        let folder = FileManager.default.temporaryDirectory.path + "/planbus-tmpfile-" + FileOps.randomHex(4)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The mount is ready once this file is seen through it.
        try "1\n".write(toFile: folder + "/VERSION", atomically: true, encoding: .utf8)
        let mount = try await SSHFSMount.make(exporting: folder)
        // The filesystem refuses O_TMPFILE, so the fallback is what runs below.
        let probe = try await runCommand([
            "python3", "-c", "import os, sys; os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600)", mount.path,
        ])
        #expect(probe.code != 0, "sshfs took O_TMPFILE: \(probe.stdout)")
        let fd = planbus_tmpfile(mount.path)
        #expect(fd >= 0, "planbus_tmpfile: errno \(errno)")
        if fd >= 0 {
            let text = Array("written through sshfs".utf8)
            #expect(pwrite(fd, text, text.count, 0) == text.count)
            var back = [UInt8](repeating: 0, count: text.count)
            #expect(pread(fd, &back, back.count, 0) == text.count)
            #expect(back == text)
            close(fd)
        }
        await mount.tearDown()
        // No name is left in the folder (sshfs keeps an unlinked open file as .fuse_hidden… only
        // until it is closed).
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? ["unreadable"]) == ["VERSION"])
    }

    @Test("host B's mount lazily unmounted while it holds a build: host A takes the build over")
    func unmountedHost() async throws {
        try await TwoHosts.run(tasks: 2) { hosts in
            hosts.open("verify")
            try await hosts.startHostB()
            let submit = hosts.submit()
            #expect(await hosts.eventually { hosts.holding("builder").count == 2 }, "\(hosts.holders("builder"))")
            let held = try #require(
                hosts.holding("builder").first { hosts.host(of: $0) == Self.hostB }, "\(hosts.diagnostics)")
            #expect(await hosts.mount.detach())
            hosts.open("build")
            let result = try await submit.value
            #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)\n\(hosts.diagnostics)")
            try await hosts.expectEveryTaskIntegratedOnce()
            _ = try hosts.expectTakenOver(held)
            // Cut off, host B settled nothing of the claim it held. A journal file it still had open
            // is written through the detached mount: at most its refused step, as `fenced`.
            let late = hosts.events.filter {
                hosts.host(of: $0) == Self.hostB && $0.id == held.id && $0.event != .claim
            }
            #expect(late.allSatisfy { $0.event == .fenced }, "\(late)")
        }
    }
}

/// One two-host session: host A's `planbus up`, the mount host B sees the bus through, host B's
/// role processes, a plan of `tasks` independent tasks whose build steps wait for the file
/// `gates/build` and whose gate waits for `gates/verify`.
final class TwoHosts: Sendable {
    let session: SessionFixture
    let git: Git
    let mount: SSHFSMount
    let run: String
    let tasks: [String]
    let hostA = Host.name
    private let hostBRoles = Mutex<[ChildProcess]>([])

    private init(session: SessionFixture, git: Git, mount: SSHFSMount, tasks: Int) {
        self.session = session
        self.git = git
        self.mount = mount
        self.run = "two-" + FileOps.randomHex(4)
        self.tasks = (1...tasks).map { "t\($0)" }
    }

    /// Sets up both hosts, runs `body`, and always tears down: host B's roles killed, the mount
    /// unmounted, sshd stopped.
    static func run(tasks: Int, _ body: (TwoHosts) async throws -> Void) async throws {
        // Host A: one worker of each role, so each host holds one build and one verification.
        let session = try await SessionFixture(
            roles: """
                  planner:
                  builder:
                    instances: 1
                  verifier:
                    instances: 1
                  judge:
                  docs:
                """)
        let git = try await Git.create(at: session.root + "/repo", files: [("README", "start\n")], message: "start")
        // A network filesystem on a loaded machine: heartbeats every 250 ms, judged over 5 s.
        let config = try String(contentsOfFile: session.config, encoding: .utf8)
        var tuned = config
        for (from, to) in [
            ("durable: false", "durable: true"), ("heartbeat: 100ms", "heartbeat: 250ms"), ("lease: 1s", "lease: 5s"),
            ("janitor: 100ms", "janitor: 250ms"), ("poll: 50ms", "poll: 100ms"),
        ] {
            guard tuned.contains(from) else { throw FixtureError("the session's planbus.yaml has no \"\(from)\"") }
            tuned = tuned.replacingOccurrences(of: from, with: to)
        }
        try tuned.write(toFile: session.config, atomically: true, encoding: .utf8)
        let mount = try await SSHFSMount.make(exporting: session.bus.layout.root)
        let hosts = TwoHosts(session: session, git: git, mount: mount, tasks: tasks)
        do {
            try hosts.writePlan()
            let up = try session.up()
            #expect(
                await hosts.eventually {
                    ["planner", "builder", "verifier"].allSatisfy { session.runningPid($0) != nil }
                })
            try await body(hosts)
            up.send(SIGTERM)
            _ = await up.wait(timeout: testProcessTimeout)
        } catch {
            await hosts.tearDown()
            throw error
        }
        await hosts.tearDown()
    }

    private func tearDown() async {
        for role in hostBRoles.withLock({ $0 }) {
            role.sendToGroup(SIGKILL)
            _ = await role.wait(timeout: testProcessTimeout)
        }
        await mount.tearDown()
    }

    var plan: String { session.root + "/plan.yaml" }

    private func writePlan() throws {
        let gates = session.gates
        var text = """
            version: 1
            name: two hosts
            goal: build on both hosts
            risk: low
            repository: repo
            tasks:

            """
        for task in tasks {
            text += """
                  - id: \(task)
                    title: write \(task).txt
                    prompt: write \(task).txt
                    scope: [\(task).txt]
                    run: while [ ! -e \(gates)/build ]; do sleep 0.1; done; echo \(task) > \(task).txt
                    gates:
                      - name: held
                        command: [sh, -c, "while [ ! -e \(gates)/verify ]; do sleep 0.1; done; test -f \(task).txt"]

                """
        }
        try text.write(toFile: plan, atomically: true, encoding: .utf8)
    }

    /// Starts host B's builder and verifier on the mount, each `planbus role ROLE --host hostb`
    /// with no configuration, and waits until both heartbeat.
    @discardableResult
    func startHostB(clockOffsetMs: Int? = nil) async throws -> [ChildProcess] {
        var environment = Foundation.ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PLANBUS_") }
        if let clockOffsetMs { environment["PLANBUS_CLOCK_OFFSET_MS"] = String(clockOffsetMs) }
        let roles = try ["builder", "verifier"].map { role in
            try ChildProcess.spawn(
                [
                    Executables.planbus, "role", role, "--host", TwoHostTests.hostB, "--bus", mount.path, "--agent",
                    "none",
                    "--envelope-timeout", "5m", "--stop-grace", "3s",
                ], environment: environment, directory: mount.scratch, stdout: .file(hostBLogPath(role)),
                stderr: .file(hostBLogPath(role)), diesWithParent: true)
        }
        hostBRoles.withLock { $0 += roles }
        let layout = session.bus.layout
        let started = await BusTesting.eventually(timeout: .seconds(60)) {
            ["builder", "verifier"].allSatisfy { role in
                ((try? FileManager.default.contentsOfDirectory(atPath: layout.heartbeats(role))) ?? []).contains {
                    $0.hasPrefix("\(role).\(TwoHostTests.hostB).")
                }
            }
        }
        #expect(started, "\(diagnostics)")
        return roles
    }

    /// Submits the plan and waits for the run, as a task.
    func submit() -> Task<CommandResult, any Error> {
        let arguments = [
            Executables.planbus, "submit", plan, "--wait", "--json", "--run", run, "--config", session.config,
        ]
        let directory = session.root
        return Task { try await runCommand(arguments, directory: directory) }
    }

    /// Polls `condition` for up to two minutes.
    func eventually(_ condition: () throws -> Bool) async rethrows -> Bool {
        try await BusTesting.eventually(timeout: .seconds(120), interval: .milliseconds(100), condition)
    }

    /// Opens the gate named `name` (`build` or `verify`).
    func open(_ name: String) {
        _ = FileManager.default.createFile(atPath: session.gates + "/" + name, contents: Data())
    }

    /// The run's journal.
    var events: [JournalEvent] { JournalReader(layout: session.bus.layout).events(run: run) }

    /// The host of the worker that wrote `event`.
    func host(of event: JournalEvent) -> String? { try? WorkerID(parsing: event.worker).host }

    /// Claims of `role`'s queue that nothing settled yet.
    func holding(_ role: String) -> [JournalEvent] {
        let events = self.events.filter { $0.role == role }
        return events.filter { claim in
            claim.event == .claim
                && !events.contains {
                    $0.id == claim.id && $0.epoch == claim.epoch && $0.event != .claim && $0.event != .publish
                }
        }
    }

    func holders(_ role: String) -> [String] { holding(role).map(\.worker) }

    func hostBLogPath(_ role: String) -> String { mount.scratch + "/" + role + ".log" }

    func hostBLog(_ role: String) -> [String] { lines(of: hostBLogPath(role)) }

    /// Host B's role logs, host A's supervisor log and the journal's events, for a failure message.
    var diagnostics: String {
        let journal = events.map { "\($0.event) \($0.role) \($0.id) e\($0.epoch ?? 0) \($0.worker) \($0.reason ?? "")" }
        var text: [String] = ["-- host B builder"]
        text += hostBLog("builder").suffix(20)
        text.append("-- host B verifier")
        text += hostBLog("verifier").suffix(20)
        text.append("-- up")
        text += lines(of: session.root + "/up.log").suffix(20)
        text.append("-- journal")
        text += journal
        return text.joined(separator: "\n")
    }

    /// Every task of the plan is merged into the integration branch exactly once.
    func expectEveryTaskIntegratedOnce() async throws {
        let merged = try await git.run([
            "log", "--merges", "--format=%(trailers:key=Planbus-Task,valueonly)",
            "planbus/\(run)/integration",
        ])
        let names = merged.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        #expect(names.sorted() == tasks, "\(merged)")
    }

    /// Host B's claim `held` was expired by a worker of host A, which then built it at a later
    /// epoch. Returns the `expire` event.
    @discardableResult
    func expectTakenOver(_ held: JournalEvent) throws -> JournalEvent {
        let history = events.filter { $0.id == held.id && $0.role == held.role }
        let expire = try #require(history.first { $0.event == .expire && $0.epoch == held.epoch }, "\(diagnostics)")
        #expect(host(of: expire) == hostA)
        #expect(expire.previous == held.worker)
        #expect((expire.reason ?? "").contains("heartbeat unchanged for"), "\(expire.reason ?? "")")
        let ack = try #require(history.first { $0.event == .ack }, "\(diagnostics)")
        // At the next epoch, or a later one when a loaded machine made host A's own holder look
        // stale in between: never at host B's.
        #expect((ack.epoch ?? 0) > (held.epoch ?? 0), "\(diagnostics)")
        #expect(host(of: ack) == hostA)
        return expire
    }
}

/// A folder mounted a second time through a real network filesystem: a private `sshd` on a
/// loopback port, with its own configuration, host key and authorized key, and `sshfs` in the
/// foreground over it.
final class SSHFSMount: Sendable {
    /// Where the folder is seen through sshfs.
    let path: String
    /// A folder of host B's own (keys, configuration, logs), outside the mount.
    let scratch: String
    private let sshd: ChildProcess
    private let sshfs: ChildProcess

    /// The FUSE `f_type`.
    static let fuseMagic = 0x6573_5546

    static let sshdPath = "/usr/sbin/sshd"

    /// True when the tools are installed and this process may mount and log in as itself (root).
    static var available: Bool {
        geteuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse")
            && FileManager.default.isExecutableFile(atPath: sshdPath)
            && ["sshfs", "fusermount", "ssh-keygen", "ssh"].allSatisfy { onPath($0) != nil }
    }

    static func onPath(_ name: String) -> String? {
        let path = Foundation.ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    private init(path: String, scratch: String, sshd: ChildProcess, sshfs: ChildProcess) {
        self.path = path
        self.scratch = scratch
        self.sshd = sshd
        self.sshfs = sshfs
    }

    /// Starts sshd and mounts `folder` (absolute) with sshfs.
    static func make(exporting folder: String) async throws -> SSHFSMount {
        let scratch = FileManager.default.temporaryDirectory.path + "/planbus-hostb-" + FileOps.randomHex(4)
        let path = scratch + "/bus"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for key in ["host_key", "client_key"] {
            let made = try await runCommand(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", scratch + "/" + key])
            guard made.code == 0 else { throw FixtureError("ssh-keygen: \(made.stderr)") }
        }
        try FileManager.default.copyItem(atPath: scratch + "/client_key.pub", toPath: scratch + "/authorized_keys")
        // sshd wants its privilege separation folder; a package's service unit makes it at boot.
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let port = try freePort()
        try """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(scratch)/host_key
        AuthorizedKeysFile \(scratch)/authorized_keys
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        PidFile none
        Subsystem sftp internal-sftp

        """.write(toFile: scratch + "/sshd_config", atomically: true, encoding: .utf8)
        let sshd = try ChildProcess.spawn(
            [sshdPath, "-D", "-e", "-f", scratch + "/sshd_config"], stdout: .file(scratch + "/sshd.log"),
            stderr: .file(scratch + "/sshd.log"), diesWithParent: true)
        guard
            await eventually(
                timeout: .seconds(30), { lines(of: scratch + "/sshd.log").contains { $0.contains("Server listening") } }
            )
        else {
            sshd.sendToGroup(SIGKILL)
            throw FixtureError("sshd did not start: \(lines(of: scratch + "/sshd.log").joined(separator: "\n"))")
        }
        let user = String(cString: getpwuid(geteuid()).pointee.pw_name)
        let options = [
            "IdentityFile=\(scratch)/client_key", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
            "BatchMode=yes", "port=\(port)", "reconnect", "cache=no", "ServerAliveInterval=5",
        ]
        let sshfs = try ChildProcess.spawn(
            ["sshfs", "-f", "\(user)@127.0.0.1:\(folder)", path, "-o", options.joined(separator: ",")],
            stdout: .file(scratch + "/sshfs.log"), stderr: .file(scratch + "/sshfs.log"), diesWithParent: true)
        let mount = SSHFSMount(path: path, scratch: scratch, sshd: sshd, sshfs: sshfs)
        guard
            await eventually(
                timeout: .seconds(30), { mount.isMounted && FileManager.default.fileExists(atPath: path + "/VERSION") })
        else {
            await mount.tearDown()
            throw FixtureError("sshfs did not mount: \(lines(of: scratch + "/sshfs.log").joined(separator: "\n"))")
        }
        return mount
    }

    /// True while `path` is on the FUSE mount.
    var isMounted: Bool { (try? FilesystemKind.of(path))?.magic == Self.fuseMagic }

    /// True while `/proc/self/mounts` lists `path` (also when the mount no longer answers).
    var isListed: Bool {
        lines(of: "/proc/self/mounts").contains { $0.split(separator: " ").dropFirst().first == Substring(path) }
    }

    /// Detaches the mount at once (`fusermount -uz`, else `umount -l`), as a host losing its
    /// share does: processes that use it from now on find an empty folder.
    /// - Returns: whether the mount is gone.
    func detach() async -> Bool {
        for command in [["fusermount", "-uz", path], ["umount", "-l", path]] where isListed {
            _ = try? await runCommand(command)
        }
        return !isListed
    }

    /// Unmounts, stops sshfs and sshd, and removes the scratch folder once nothing is mounted on it.
    func tearDown() async {
        if isListed { _ = try? await runCommand(["fusermount", "-u", path]) }
        _ = await detach()
        // sshfs ends once unmounted; one that does not is killed at the deadline.
        _ = await sshfs.wait(timeout: .seconds(10))
        sshd.sendToGroup(SIGTERM)
        _ = await sshd.wait(timeout: .seconds(10))
        if !isListed { try? FileManager.default.removeItem(atPath: scratch) }
    }

    /// A loopback TCP port that nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw FixtureError("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
