import BusTesting
import Foundation
import Launcher
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ChildProcess` with real processes: descriptors, groups, sessions, exits.
@Suite("Child processes")
struct ChildProcessTests {
    func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.path + "/planbus-child-" + UUID().uuidString.prefix(8)
    }

    /// A new folder holding one shell script `name` with `mode`; the caller removes the folder.
    func folder(withScript name: String, _ text: String, mode: mode_t) throws -> String {
        let folder = temporaryFile()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        chmod(folder + "/" + name, mode)
        return folder
    }

    @Test("a child inherits no descriptor but 0, 1 and 2, even one opened without O_CLOEXEC")
    func noInheritedDescriptors() async throws {
        let leaky = temporaryFile()
        let fd = open(leaky, O_WRONLY | O_CREAT, 0o600)
        #expect(fd > 2)
        defer {
            close(fd)
            unlink(leaky)
        }
        let out = temporaryFile()
        defer { unlink(out) }
        let child = try ChildProcess.spawn(["/bin/ls", "/proc/self/fd"], stdout: .file(out), stderr: .null)
        #expect(await child.wait(timeout: testProcessTimeout).exit == .exited(0))
        // ls itself opens one descriptor to read the folder.
        let fds = lines(of: out).compactMap(Int32.init).sorted()
        #expect(Array(fds.prefix(3)) == [0, 1, 2])
        #expect(fds.count == 4)
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
        #expect(target == leaky)
    }

    @Test("a program still open for writing for a moment is started once it is closed, not refused as busy")
    func textFileBusy() async throws {
        let script = temporaryFile()
        defer { unlink(script) }
        let fd = open(script, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        #expect(fd > 2)
        let text = "#!/bin/sh\nexit 7\n"
        #expect(write(fd, text, text.utf8.count) == text.utf8.count)
        // The writer lets go a moment after the spawn began, as a process forked by another thread
        // lets go of an inherited descriptor when it reaches its own exec.
        let closer = Thread {
            usleep(200_000)
            close(fd)
        }
        closer.start()
        let child = try ChildProcess.spawn([script], stdout: .null, stderr: .null)
        #expect(await child.wait(timeout: testProcessTimeout).exit == .exited(7))
    }

    @Test("a child leads its own process group, or its own session")
    func groupsAndSessions() async throws {
        let group = try ChildProcess.spawn(["/bin/sleep", "30"], stdout: .null, stderr: .null)
        let session = try ChildProcess.spawn(["/bin/sleep", "30"], stdout: .null, stderr: .null, newSession: true)
        #expect(getpgid(group.pid) == group.pid)
        #expect(getsid(group.pid) == getsid(0))
        #expect(getpgid(session.pid) == session.pid)
        #expect(getsid(session.pid) == session.pid)
        group.send(SIGKILL)
        session.send(SIGKILL)
        #expect(await group.wait(timeout: testProcessTimeout).exit == .signaled(SIGKILL))
        #expect(await session.wait(timeout: testProcessTimeout).exit == .signaled(SIGKILL))
    }

    @Test("killsGroupOnExit: what the child left running in its group is killed when it exits")
    func groupKilledOnExit() async throws {
        let pidFile = temporaryFile()
        defer { unlink(pidFile) }
        let script = "sleep 60 & echo $! > \(pidFile); exit 0"
        let keeping = try ChildProcess.spawn(["/bin/sh", "-c", script], stdout: .null, stderr: .null)
        #expect(await keeping.wait(timeout: testProcessTimeout).exit == .exited(0))
        let leftover = try #require(lines(of: pidFile).first.flatMap { Int32($0) })
        #expect(isLive(leftover))
        kill(leftover, SIGKILL)

        let cleaning = try ChildProcess.spawn(
            ["/bin/sh", "-c", script], stdout: .null, stderr: .null, killsGroupOnExit: true)
        #expect(await cleaning.wait(timeout: testProcessTimeout).exit == .exited(0))
        let orphan = try #require(lines(of: pidFile).first.flatMap { Int32($0) })
        #expect(orphan != leftover)
        #expect(await eventually { !isLive(orphan) })
    }

    @Test("a command is looked for in the child's own PATH, and a missing one fails with ENOENT")
    func pathAndFailures() async throws {
        let folder = try folder(withScript: "planbus-probe", "#!/bin/sh\nexit 7\n", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let probe = try ChildProcess.spawn(["planbus-probe"], environment: ["PATH": folder], stdout: .null)
        #expect(await probe.wait(timeout: testProcessTimeout).exit == .exited(7))

        #expect(throws: ProcessError.self) {
            try ChildProcess.spawn(["planbus-probe"], environment: ["PATH": "/nonexistent"], stdout: .null)
        }
        do {
            _ = try ChildProcess.spawn([folder + "/missing"], stdout: .null)
            Issue.record("spawning a missing program succeeded")
        } catch {
            #expect(error.code == .spawnFailed)
            #expect(error.errno == ENOENT)
        }
    }

    @Test("a failure in the child before or at its exec is reported with its errno, and the caller goes on")
    func childFailures() async throws {
        // Not executable: execve fails with EACCES in the child.
        let folder = try folder(withScript: "plain", "#!/bin/sh\nexit 0\n", mode: 0o644)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A working directory that does not exist: chdir fails with ENOENT before the exec.
        for (arguments, directory, expected) in [
            ([folder + "/plain"], nil as String?, EACCES), (["/bin/true"], folder + "/missing", ENOENT),
        ] {
            do {
                _ = try ChildProcess.spawn(arguments, directory: directory, stdout: .null)
                Issue.record("spawning \(arguments) in \(directory ?? ".") succeeded")
            } catch {
                #expect(error.code == .spawnFailed)
                #expect(error.errno == expected)
            }
        }
        // Many children at once from many threads, each with its own exit status.
        let exits = await withTaskGroup(of: ChildProcess.Exit.self) { group in
            for code in 0..<32 {
                group.addTask {
                    let child = try? ChildProcess.spawn(["/bin/sh", "-c", "exit \(code)"], stdout: .null)
                    return await child?.wait() ?? .signaled(0)
                }
            }
            return await group.reduce(into: [ChildProcess.Exit]()) { $0.append($1) }
        }
        #expect(Set(exits.map(\.description)) == Set((0..<32).map { "exit \($0)" }))
    }

    @Test(
        "a program's output is read back from files in memory, past a pipe's size and cut at the limit, and its input fed"
    )
    func programRunOutputAndInput() async throws {
        // Both streams are files in memory, not on any disk.
        let streams = try await ProgramRun.run(
            ["/bin/sh", "-c", "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2"], timeout: testProcessTimeout)
        #expect(streams.succeeded)
        #expect(streams.stdout.hasPrefix("/memfd:planbus"))
        #expect(streams.stderr.hasPrefix("/memfd:planbus"))

        // 300,000 bytes on each stream, far more than a pipe holds: the child never blocks.
        let big = try await ProgramRun.run(
            ["/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero | tr '\\0' b >&2"],
            timeout: testProcessTimeout)
        #expect(big.succeeded)
        #expect(big.stdout.utf8.count == 300_000 && big.stdout.allSatisfy { $0 == "a" })
        #expect(big.stderr.utf8.count == 300_000 && big.stderr.allSatisfy { $0 == "b" })
        let cut = try await ProgramRun.run(
            ["/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a"], timeout: testProcessTimeout, outputLimit: 1000)
        #expect(cut.stdout == String(repeating: "a", count: 1000))

        // The input is read from its start, whole, and nothing else is.
        let text = String(repeating: "line of input é\n", count: 20_000)
        let echoed = try await ProgramRun.run(["/bin/cat"], timeout: testProcessTimeout, input: text)
        #expect(echoed.succeeded)
        #expect(echoed.stdout == text)
        let none = try await ProgramRun.run(["/bin/cat"], timeout: testProcessTimeout)
        #expect(none.succeeded && none.stdout.isEmpty)

        // On disk: an unnamed file in the temporary directory, written by the child, read back.
        let disk = try AnonymousFile(onDisk: true)
        let child = try ChildProcess.spawn(
            ["/bin/sh", "-c", "readlink /proc/self/fd/1; echo written"], stdout: disk.output, stderr: .null)
        #expect(await child.wait(timeout: testProcessTimeout).exit == .exited(0))
        let lines = disk.text(limit: 4096).split(separator: "\n")
        #expect(lines.count == 2 && lines[1] == "written")
        #expect(lines.first?.hasPrefix(FileManager.default.temporaryDirectory.path) == true)
        #expect(lines.first?.hasSuffix("(deleted)") == true)
    }
}
