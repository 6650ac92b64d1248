import Bus
import FileFormats
import Launcher
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// `planbus up` → every role heartbeats, against the cost of starting as many processes.
///
/// Each run makes a fresh bus with the bus's default settings and `instances` instances of the
/// bench role. First the floor: `instances` × `planbus --version` started in parallel, until the
/// last has exited, and one `planbus --version` alone. Then `planbus up` is spawned and the clock
/// runs until `hb/<role>/` holds one heartbeat file per instance, and until `state.json` shows
/// every instance `running` (the supervisor marks an instance running once it has read its
/// heartbeat, on its 100 ms tick). The supervisor is then stopped with SIGTERM and waited for.
struct SessionUpBench: Sendable {
    let scratch: BenchDirectory
    let executable: String
    let instances: Int

    /// How long the roles have to come up before the run counts as a setup failure.
    static let timeout: Duration = .seconds(60)

    /// One run.
    /// - Throws: ``BenchError`` `process` when a floor process fails, or the roles do not all
    ///   heartbeat within ``timeout``; what ``SessionBus`` throws when the session cannot be made.
    func measure(run: Int) async throws -> SessionUpSample {
        let session = try SessionBus(
            folder: try scratch.phase("up-\(run)"), executable: executable, instances: instances, busSettings: [],
            supervisor: ["stop_grace: 5s", "start_timeout: 1m"])
        let parallel = try await Self.processFloor(executable: executable, count: instances)
        let one = try await Self.processFloor(executable: executable, count: 1)

        let clock = ContinuousClock()
        let start = clock.now
        let up = try session.up()
        var heartbeats: ContinuousClock.Instant?
        let running = await pollUntil(timeout: Self.timeout, every: SessionBenchmark.pollInterval) {
            if heartbeats == nil, session.heartbeatFiles >= instances { heartbeats = clock.now }
            return up.exitStatus != nil || session.runningPids(supervisor: up.pid) != nil
        }
        let exit = up.exitStatus
        let stopped = await session.stop(up, timeout: .seconds(20))
        guard let running, exit == nil else {
            let what =
                exit.map { "planbus up ended (\($0)) before every role ran" }
                ?? "not every role heartbeats \(DurationText.format(Self.timeout)) after planbus up started"
            throw BenchError(.process, what + "\n" + session.logTail())
        }
        return SessionUpSample(
            floorParallel: parallel.seconds, floorOne: one.seconds,
            heartbeatFiles: ((heartbeats ?? running) - start).seconds, running: (running - start).seconds,
            stop: stopped?.seconds)
    }

    /// Starts `count` × `executable --version` at once and waits for every one to exit.
    /// - Returns: from the first spawn to the last exit.
    /// - Throws: ``BenchError`` `process` when one cannot start or does not exit 0.
    static func processFloor(executable: String, count: Int) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        var children: [ChildProcess] = []
        for _ in 0..<count {
            children.append(try ChildProcess.spawn([executable, "--version"], stdout: .null, stderr: .null))
        }
        for child in children {
            let exit = await child.wait()
            guard exit == .exited(0) else {
                throw BenchError(.process, "\(executable) --version ended with \(exit)")
            }
        }
        return clock.now - start
    }
}
