import Bus
import BusTesting
import Foundation
import Launcher
import Synchronization
import Testing

@testable import planbus

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary folder for doctor fixtures (fake /proc files, PATH folders, configurations),
/// removed when released.
private final class Scratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/planbus-doctor-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `text` to `name` (folders created) with `mode`, and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: mode_t = 0o644) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, mode)
        return file
    }

    /// Writes fake `/proc/sys/fs/inotify` files and returns their folder.
    func inotify(watches: Int, instances: Int, queued: Int) throws -> String {
        try write("inotify/max_user_watches", "\(watches)\n")
        try write("inotify/max_user_instances", "\(instances)\n")
        try write("inotify/max_queued_events", "\(queued)\n")
        return path + "/inotify"
    }
}

/// A fixed wall clock for the tests.
private let fixedNow = Timestamp(milliseconds: 1_800_000_000_000)

/// A doctor that sees only the given fixtures: no ambient planbus.yaml, environment or PATH.
private func makeDoctor(
    bus: String, folder: Scratch, config: String? = nil, searchPath: String = "/nonexistent",
    environment: [String: String] = [:]
) -> Doctor {
    var doctor = Doctor(
        locator: ConfigLocator(config: config, bus: bus, environment: [:], directory: folder.path),
        environment: environment, searchPath: searchPath)
    doctor.inotifyDirectory = folder.path + "/inotify"
    doctor.hostName = "thishost"
    doctor.now = { fixedNow }
    doctor.heartbeatWait = .zero
    return doctor
}

/// Settings with the default lease (15 s) but quick heartbeats, for skew tests.
private var skewSettings: BusSettings {
    var settings = BusSettings.testing
    settings.leaseMs = 15_000
    return settings
}

/// Writes a heartbeat for a worker on `host`, `offsetMs` away from the fixed clock.
private func writeHeartbeat(
    bus: TemporaryBus, host: String, offsetMs: Int64, state: Heartbeat.State = .working, seq: Int = 7
) throws {
    let worker = try WorkerID(role: "work", host: host, pid: 4242, incarnation: "00112233aabbccdd")
    let beat = Heartbeat(
        worker: worker, bootID: "feed", processStart: 1, seq: seq, state: state,
        updated: Timestamp(milliseconds: fixedNow.milliseconds + offsetMs))
    try beat.json.serialized().write(toFile: bus.bus.layout.heartbeat(worker), atomically: true, encoding: .utf8)
}

@Suite("planbus doctor", .timeLimit(.minutes(1)))
struct DoctorTests {
    @Test("no configuration file means the built-in defaults, reported as ok")
    func defaultConfiguration() throws {
        let folder = try Scratch()
        let (check, config) = makeDoctor(bus: folder.path + "/bus", folder: folder).configuration()
        #expect(check.status == .ok)
        #expect(check.detail.contains("no planbus.yaml; the built-in defaults are used"))
        #expect(config?.bus == folder.path + "/bus")
    }

    @Test("an invalid configuration is a failure carrying the loader's message")
    func invalidConfiguration() throws {
        let folder = try Scratch()
        let file = try folder.write("planbus.yaml", "roles:\n  builder:\n    instances: two\n")
        let (check, config) = makeDoctor(bus: folder.path + "/bus", folder: folder, config: file).configuration()
        #expect(check.status == .failure)
        #expect(config == nil)
        #expect(check.detail.contains("\(file):3:16: roles.builder.instances"))
        #expect(check.fix?.contains("edit \(file)") == true)
    }

    @Test("low inotify limits warn with the sysctl commands that raise and persist them")
    func lowInotifyLimits() throws {
        let folder = try Scratch()
        _ = try folder.inotify(watches: 4_096, instances: 64, queued: 16_384)
        let check = makeDoctor(bus: folder.path + "/bus", folder: folder).inotifyLimits()
        #expect(check.status == .warning)
        #expect(check.detail.contains("max_user_watches 4096 (below 8192)"))
        #expect(check.detail.contains("max_user_instances 64 (below 128)"))
        #expect(check.detail.contains("max_queued_events 16384"))
        #expect(check.detail.contains("libinotifytools is linked"))
        let fix = try #require(check.fix)
        #expect(fix.contains("sudo sysctl -w fs.inotify.max_user_watches=524288"))
        #expect(fix.contains("sudo sysctl -w fs.inotify.max_user_instances=512"))
        #expect(!fix.contains("max_queued_events"))
        #expect(fix.contains("/etc/sysctl.d/"))
    }

    @Test("high inotify limits are ok and need no fix")
    func highInotifyLimits() throws {
        let folder = try Scratch()
        _ = try folder.inotify(watches: 524_288, instances: 1_024, queued: 65_536)
        let check = makeDoctor(bus: folder.path + "/bus", folder: folder).inotifyLimits()
        #expect(check.status == .ok)
        #expect(check.fix == nil)
        #expect(check.detail.contains("max_user_watches 524288, max_user_instances 1024, max_queued_events 65536"))
    }

    @Test(
        "the real /proc limits are read whole (sysctl files report size 0 and answer one read)",
        .enabled(if: FileManager.default.fileExists(atPath: "/proc/sys/fs/inotify/max_user_watches")))
    func realInotifyLimits() throws {
        let folder = try Scratch()
        var doctor = makeDoctor(bus: folder.path + "/bus", folder: folder)
        doctor.inotifyDirectory = "/proc/sys/fs/inotify"
        let watches = try String(contentsOfFile: "/proc/sys/fs/inotify/max_user_watches", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let check = doctor.inotifyLimits()
        #expect(check.detail.hasPrefix("max_user_watches \(watches)"))
        #expect(!check.detail.contains("cannot read"))
    }

    @Test("unreadable inotify limits are a warning")
    func missingInotifyLimits() throws {
        let folder = try Scratch()
        let check = makeDoctor(bus: folder.path + "/bus", folder: folder).inotifyLimits()
        #expect(check.status == .warning)
        #expect(check.detail.contains("cannot read \(folder.path)/inotify/max_user_watches"))
    }

    @Test("inotify forced on a network filesystem fails; auto polls there and uses inotify locally")
    func wakeModes() {
        let nfs = FilesystemKind(magic: 0x6969)
        let ext4 = FilesystemKind(magic: 0xEF53)
        var settings = BusSettings()
        settings.wake = .inotify
        let forced = Doctor.wakeCheck(kind: .success(nfs), settings: settings, origin: .environment)
        #expect(forced.status == .failure)
        #expect(forced.detail.contains("nfs filesystem with wake: inotify set by PLANBUS_WAKE"))
        #expect(forced.fix?.contains("unset PLANBUS_WAKE") == true)

        settings.wake = .auto
        let auto = Doctor.wakeCheck(kind: .success(nfs), settings: settings, origin: .defaults)
        #expect(auto.status == .ok)
        #expect(auto.detail.contains("poll mode, a rescan every 500 ms"))
        let local = Doctor.wakeCheck(kind: .success(ext4), settings: settings, origin: .defaults)
        #expect(local.status == .ok)
        #expect(local.detail.contains("local ext4 filesystem: inotify mode"))
    }

    @Test("the filesystem check follows bus.json's wake setting, and PLANBUS_WAKE over it")
    func filesystemOfABus() throws {
        let folder = try Scratch()
        let temporary = try TemporaryBus()
        _ = try Bus.updateSettings(at: temporary.path) { settings in
            var changed = settings
            changed.wake = .poll
            return changed
        }
        let doctor = makeDoctor(bus: temporary.path, folder: folder)
        let (settings, origin) = doctor.settings(bus: temporary.path, config: doctor.configuration().config)
        #expect(settings.wake == .poll)
        #expect(origin == .busFile(temporary.bus.layout.settingsFile))
        let kind = try FilesystemKind.of(temporary.path)
        let check = doctor.filesystem(bus: temporary.path, settings: settings, origin: origin)
        #expect(check.status == .ok)
        #expect(check.detail.contains("\(kind) filesystem: poll mode, a rescan every 50 ms"))
        #expect(check.detail.contains("wake: poll set by \(temporary.bus.layout.settingsFile)"))

        let forced = makeDoctor(bus: temporary.path, folder: folder, environment: ["PLANBUS_WAKE": "inotify"])
        let (overridden, source) = forced.settings(bus: temporary.path, config: nil)
        #expect(overridden.wake == .inotify)
        #expect(source == .environment)
    }

    @Test("agent CLIs are found on PATH; a role whose agent's CLI is missing fails, naming the role")
    func agents() throws {
        let folder = try Scratch()
        let claude = try folder.write("bin/claude", "#!/bin/sh\necho claude\n", mode: 0o755)
        try folder.write("bin/codex", "not executable\n", mode: 0o644)
        let file = try folder.write(
            "planbus.yaml", "roles:\n  builder:\n    agent: codex\n  planner:\n    agent: claude\n")
        let doctor = makeDoctor(
            bus: folder.path + "/bus", folder: folder, config: file, searchPath: "/nonexistent:\(folder.path)/bin")
        let config = try #require(doctor.configuration().config)
        let check = doctor.agents(config: config)
        #expect(check.status == .failure)
        #expect(check.detail.contains("claude (\(claude))"))
        #expect(check.detail.contains("role builder uses agent codex, but codex is not on PATH"))
        #expect(!check.detail.contains("role planner uses"))
        #expect(check.fix?.contains("npm install -g @openai/codex") == true)
        #expect(check.fix?.contains("roles.builder.agent: none") == true)
    }

    @Test(
        "the agents section counts: an executable path, a command agent's program, fallback and reviewer, a key variable"
    )
    func agentsSection() throws {
        let folder = try Scratch()
        let claude = try folder.write("tools/claude-wrapper", "#!/bin/sh\n", mode: 0o755)
        let file = try folder.write(
            "planbus.yaml",
            """
            agents:
              claude: {executable: \(claude)}
              openai: {base_url: "http://127.0.0.1:9/v1", api_key_env: ""}
              anthropic: {api_key_env: MY_ANTHROPIC}
              command: {argv: [\(folder.path)/tools/missing-agent, "{prompt_file}"]}
            roles:
              builder:
                agent: claude
                fallback: {agent: command}
              verifier:
                agent: openai
                reviewer: {agent: anthropic}

            """)
        let doctor = makeDoctor(bus: folder.path + "/bus", folder: folder, config: file, searchPath: "/nonexistent")
        let check = doctor.agents(config: try #require(doctor.configuration().config))
        #expect(check.status == .failure)
        // The wrapper is found where the file says; an empty api_key_env needs no key.
        #expect(!check.detail.contains("uses agent claude"))
        #expect(!check.detail.contains("uses agent openai"))
        #expect(
            check.detail.contains(
                "role builder uses fallback command, but \(folder.path)/tools/missing-agent is not an executable file"))
        #expect(check.detail.contains("role verifier uses reviewer anthropic, but MY_ANTHROPIC is not set"))
        #expect(check.fix?.contains("roles.verifier.reviewer: none") == true)
    }

    @Test("no agent CLI at all is ok: offline mode")
    func noAgents() throws {
        let folder = try Scratch()
        let doctor = makeDoctor(bus: folder.path + "/bus", folder: folder)
        let check = doctor.agents(config: doctor.configuration().config)
        #expect(check.status == .ok)
        #expect(check.detail.contains("offline mode; roles run without agents"))
    }

    @Test("API agents need their key in the environment or the role's env")
    func apiKeys() throws {
        let folder = try Scratch()
        let file = try folder.write(
            "planbus.yaml",
            "roles:\n  planner:\n    agent: openai\n  judge:\n    agent: anthropic\n    env:\n"
                + "      ANTHROPIC_API_KEY: secret\n  docs:\n    instances: 0\n    agent: gemini\n")
        let without = makeDoctor(bus: folder.path + "/bus", folder: folder, config: file)
        let missing = without.agents(config: without.configuration().config)
        #expect(missing.status == .failure)
        #expect(missing.detail.contains("role planner uses agent openai, but OPENAI_API_KEY is not set"))
        #expect(!missing.detail.contains("role judge"))
        #expect(!missing.detail.contains("role docs"))
        let with = makeDoctor(
            bus: folder.path + "/bus", folder: folder, config: file, environment: ["OPENAI_API_KEY": "k"])
        #expect(with.agents(config: with.configuration().config).status == .ok)
    }

    @Test("git missing from PATH is a failure with the install command")
    func gitMissing() async throws {
        let folder = try Scratch()
        let (check, path) = await makeDoctor(bus: folder.path + "/bus", folder: folder).git()
        #expect(check.status == .failure)
        #expect(path == nil)
        #expect(check.fix == "sudo apt-get install -y git")
        let repository = await makeDoctor(bus: folder.path + "/bus", folder: folder).repository(folder.path, git: nil)
        #expect(repository.status == .warning)
    }

    @Test(
        "git runs, and a folder is a work tree only after git init",
        .enabled(if: Doctor.find("git", in: "/usr/bin:/bin:/usr/local/bin") != nil))
    func gitRuns() async throws {
        let folder = try Scratch()
        let doctor = makeDoctor(bus: folder.path + "/bus", folder: folder, searchPath: "/usr/bin:/bin:/usr/local/bin")
        let (check, git) = await doctor.git()
        #expect(check.status == .ok)
        #expect(check.detail.hasPrefix("git version "))
        let gitPath = try #require(git)
        let repository = folder.path + "/repo"
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let before = await doctor.repository(repository, git: gitPath)
        #expect(before.status == .warning)
        #expect(before.detail.contains("is not a git work tree"))
        #expect(before.fix?.contains("git -C \(repository) init") == true)
        let initialised = try await runCommand([gitPath, "init", "-q", repository])
        #expect(initialised.code == 0)
        let after = await doctor.repository(repository, git: gitPath)
        #expect(after.status == .ok)
    }

    @Test("a missing bus is a failure whose fix is planbus init")
    func missingBus() throws {
        let folder = try Scratch()
        let bus = folder.path + "/nowhere/bus"
        let check = makeDoctor(bus: bus, folder: folder).bus(bus)
        #expect(check.status == .failure)
        #expect(check.detail == "there is no bus at \(bus)")
        #expect(check.fix == "planbus init \(bus)")
    }

    @Test("a writable bus passes the write cycle")
    func writableBus() throws {
        let folder = try Scratch()
        let temporary = try TemporaryBus()
        let check = makeDoctor(bus: temporary.path, folder: folder).bus(temporary.path)
        #expect(check.status == .ok)
        #expect(check.detail.contains("created, written, fsynced, renamed and removed"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.bus.layout.tmp).isEmpty)
    }

    @Test("a read-only bus is a failure with the errno text (unless running as root, which writes anyway)")
    func readOnlyBus() throws {
        let folder = try Scratch()
        let temporary = try TemporaryBus()
        let layout = temporary.bus.layout
        chmod(layout.root, 0o555)
        chmod(layout.tmp, 0o555)
        defer {
            chmod(layout.tmp, 0o700)
            chmod(layout.root, 0o700)
        }
        let probe = layout.tmp + "/probe"
        let writable = FileManager.default.createFile(atPath: probe, contents: Data())
        try? FileManager.default.removeItem(atPath: probe)
        let check = makeDoctor(bus: temporary.path, folder: folder).bus(temporary.path)
        if writable {
            #expect(check.status == .ok)
        } else {
            #expect(check.status == .failure)
            #expect(check.detail.contains("not writable") || check.detail.contains("Permission denied"))
            #expect(check.fix?.contains("chmod -R u+rwX \(temporary.path)") == true)
        }
    }

    @Test("a broken tmp/ fails the write cycle with the errno text, even as root")
    func brokenStaging() throws {
        let folder = try Scratch()
        let temporary = try TemporaryBus()
        let tmp = temporary.bus.layout.tmp
        try FileManager.default.removeItem(atPath: tmp)
        try "not a folder".write(toFile: tmp, atomically: false, encoding: .utf8)
        let check = makeDoctor(bus: temporary.path, folder: folder).bus(temporary.path)
        #expect(check.status == .failure)
        #expect(check.detail.contains("a test write in \(tmp) failed"))
        #expect(check.detail.contains("Not a directory"))
        #expect(check.fix == "move \(tmp) away if it is not a folder, then planbus init \(temporary.path)")
    }

    @Test("free space below 1 GiB is a warning")
    func diskSpace() throws {
        let low = Doctor.diskSpaceCheck(path: "/bus", available: 512 << 20, total: 8 << 30)
        #expect(low.status == .warning)
        #expect(low.detail.hasPrefix("0.5 GiB free of 8.0 GiB (6 %)"))
        let high = Doctor.diskSpaceCheck(path: "/bus", available: 4 << 30, total: 8 << 30)
        #expect(high.status == .ok)
        let folder = try Scratch()
        let real = makeDoctor(bus: folder.path + "/bus", folder: folder).diskSpace(folder.path + "/bus")
        #expect(real.detail.contains("GiB free of"))
    }

    @Test("a heartbeat 5 s in the future from another host is a warning naming the host")
    func clockAhead() async throws {
        let folder = try Scratch()
        let temporary = try TemporaryBus(settings: skewSettings)
        try writeHeartbeat(bus: temporary, host: "otherhost", offsetMs: 5_000)
        try writeHeartbeat(bus: temporary, host: "thishost", offsetMs: 60_000)
        try writeHeartbeat(bus: temporary, host: "stoppedhost", offsetMs: 60_000, state: .stopped)
        let check = await makeDoctor(bus: temporary.path, folder: folder).clockSkew(
            bus: temporary.path, settings: skewSettings)
        #expect(check.status == .warning)
        #expect(check.detail.contains("otherhost +5.0 s (its clock is ahead of this one's)"))
        #expect(!check.detail.contains("thishost"))
        #expect(!check.detail.contains("stoppedhost"))
        #expect(check.fix?.contains("otherhost") == true)
        #expect(check.fix?.contains("timedatectl") == true)
    }

    @Test("skew above half the lease is a failure; within the heartbeat interval it is noise")
    func clockSkewLevels() async throws {
        let folder = try Scratch()
        let far = try TemporaryBus(settings: skewSettings)
        try writeHeartbeat(bus: far, host: "farhost", offsetMs: 9_000)
        let failure = await makeDoctor(bus: far.path, folder: folder).clockSkew(bus: far.path, settings: skewSettings)
        #expect(failure.status == .failure)
        #expect(failure.detail.contains("farhost +9.0 s"))
        #expect(failure.detail.contains("half the 15.0 s lease"))

        let near = try TemporaryBus(settings: skewSettings)
        try writeHeartbeat(bus: near, host: "nearhost", offsetMs: -80)
        let noise = await makeDoctor(bus: near.path, folder: folder).clockSkew(bus: near.path, settings: skewSettings)
        #expect(noise.status == .ok)
        #expect(noise.detail.contains("nearhost -0.1 s, within the 0.1 s heartbeat interval: noise"))
    }

    @Test("an old heartbeat that is not rewritten is a gone worker, not a slow clock")
    func staleHeartbeat() async throws {
        let folder = try Scratch()
        let temporary = try TemporaryBus(settings: skewSettings)
        try writeHeartbeat(bus: temporary, host: "deadhost", offsetMs: -3_600_000)
        var doctor = makeDoctor(bus: temporary.path, folder: folder)
        doctor.heartbeatWait = .milliseconds(200)
        let check = await doctor.clockSkew(bus: temporary.path, settings: skewSettings)
        #expect(check.status == .ok)
        #expect(check.detail.contains("1 heartbeat from deadhost was not rewritten"))
    }

    @Test("an old heartbeat that is rewritten while the doctor watches measures a clock that is behind")
    func clockBehind() async throws {
        let folder = try Scratch()
        // The doctor watches for a rewrite for up to a heartbeat and a half second and stops at
        // the first one: a heartbeat of 2 s keeps a loaded machine from hiding the writer.
        var settings = skewSettings
        settings.heartbeatMs = 2_000
        let temporary = try TemporaryBus(settings: settings)
        try writeHeartbeat(bus: temporary, host: "slowhost", offsetMs: -3_000, seq: 7)
        var doctor = makeDoctor(bus: temporary.path, folder: folder)
        doctor.heartbeatWait = .seconds(5)
        // A live worker on that host: it rewrites its heartbeat on its own cadence, whenever the
        // doctor happens to look. It is a thread of its own, as a worker is a process of its own:
        // the tasks of other tests keep the shared pool busy, and must not hold the writer back.
        let stop = Mutex(false)
        let writer = Thread {
            var seq = 8
            while !stop.withLock({ $0 }) {
                try? writeHeartbeat(bus: temporary, host: "slowhost", offsetMs: -3_000, seq: seq)
                seq += 1
                usleep(50_000)
            }
        }
        writer.start()
        let result = await doctor.clockSkew(bus: temporary.path, settings: settings)
        stop.withLock { $0 = true }
        #expect(result.status == .warning)
        #expect(result.detail.contains("slowhost -3.0 s (its clock is behind this one's)"))
        #expect(!result.detail.contains("not rewritten"))
    }

    @Test("no other hosts is ok")
    func noOtherHosts() async throws {
        let folder = try Scratch()
        let temporary = try TemporaryBus(settings: skewSettings)
        let check = await makeDoctor(bus: temporary.path, folder: folder).clockSkew(
            bus: temporary.path, settings: skewSettings)
        #expect(check.status == .ok)
        #expect(check.detail == "no heartbeats from other hosts")
    }

    @Test("planbus doctor --json prints the checks and ok, and exits 1 exactly when a check fails")
    func command() async throws {
        let folder = try Scratch()
        let missing = folder.path + "/missing-bus"
        let failed = try await runCommand(
            [Executables.planbus, "doctor", "--bus", missing, "--json"], directory: folder.path)
        #expect(failed.code == 1)
        let report = try JSONValue.parse(failed.stdout)
        #expect(report["ok"] == .bool(false))
        let checks = try #require(report["checks"]?.arrayValue)
        #expect(checks.count == 9)
        let bus = try #require(checks.first { $0["name"] == "bus" })
        #expect(bus["status"] == "failure")
        #expect(bus["fix"] == .string("planbus init \(missing)"))

        let temporary = try TemporaryBus()
        let text = try await runCommand(
            [Executables.planbus, "doctor", "--bus", temporary.path], directory: folder.path)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("ok    bus ") })
        #expect(lines.last?.contains(" ok, ") == true)
        #expect(text.code == (lines.contains { $0.hasPrefix("FAIL") } ? 1 : 0))
    }

    @Test("run gives every check in order, and the text form marks problems with a fix line")
    func fullRun() async throws {
        let folder = try Scratch()
        _ = try folder.inotify(watches: 100, instances: 1_024, queued: 65_536)
        let bus = folder.path + "/missing-bus"
        let checks = await makeDoctor(bus: bus, folder: folder).run()
        #expect(
            checks.map(\.name) == [
                "configuration", "inotify", "filesystem", "git", "repository", "agents", "bus", "disk space",
                "clock skew",
            ])
        #expect(checks.first { $0.name == "bus" }?.status == .failure)
        #expect(checks.first { $0.name == "inotify" }?.status == .warning)
        let text = DoctorCommand.text(checks)
        #expect(text.contains("FAIL  bus"))
        #expect(text.contains("WARN  inotify"))
        #expect(text.contains("      fix: planbus init \(bus)"))
        #expect(text.contains("ok    configuration"))
        #expect(checks.map(\.json).allSatisfy { $0["status"]?.stringValue != nil })
    }
}
