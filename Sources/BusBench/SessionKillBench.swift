import Bus
import FileFormats
import Launcher
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// SIGKILL of a role holding an envelope → that envelope acked by the replacement process.
///
/// One session per mode and lease: one instance of the bench role, the lease under test, the
/// heartbeat a fifth of it (at most 100 ms), the janitor every 100 ms (at most a quarter of the
/// lease), and a constant 100 ms
/// restart backoff (`stable_after: 0s`). Each run:
/// 1. waits until `state.json` shows the instance `running` under a pid not yet killed;
/// 2. publishes a `bench-work` envelope that waits for a gate file, and waits for the role's
///    marker saying it has claimed the envelope at epoch 1;
/// 3. after a random gap of 0–100 ms (so the kill falls at a random phase of the supervisor's
///    100 ms tick), stops the holder with SIGSTOP, creates the gate (so the replacement finishes
///    at once, and the frozen holder cannot see it and finish first), then sends SIGKILL: the
///    clock starts;
/// 4. polls, every 2 ms, `state.json` for the new pid, the markers for the claim at epoch 2, and
///    `done/` for the envelope; the clock stops when it is in `done/` (deadline 30 s + 3 leases);
/// 5. reads the run's journal: the last ack must be at epoch 2, and the `expire` that released
///    the killed holder's claim must give the reason the mode expects (its pid gone on the same
///    host, its heartbeat unchanged for the lease on another host). Anything else is an error.
struct SessionKillBench: Sendable {
    /// The host name the role runs under in the other-host mode.
    static let otherHost = "bench-other"
    /// The period of the supervisor's loop, which checks restart backoffs and heartbeats.
    static let supervisorTick: Duration = .milliseconds(100)

    /// One mode and lease: the point, and the messages of the runs that went wrong.
    struct Outcome {
        var point: SessionKillPoint
        var messages: [String] = []
    }

    let scratch: BenchDirectory
    let configuration: SessionBenchmark.Configuration

    /// Runs the `configuration.runs` kills of one mode and lease; `report` gets a line per run.
    /// - Throws: ``BenchError`` `process` when the role never runs; what ``SessionBus`` throws
    ///   when the session cannot be made.
    func measure(
        mode: SessionKillMode, lease: Duration, report: (Int, String) -> Void
    ) async throws -> Outcome {
        let c = configuration
        let heartbeat = c.heartbeat(for: lease)
        let session = try SessionBus(
            folder: try scratch.phase("kill-\(mode.rawValue)-\(lease.milliseconds)ms"), executable: c.executable,
            instances: 1,
            busSettings: [
                "heartbeat: \(DurationText.format(heartbeat))", "lease: \(DurationText.format(lease))",
                "janitor: \(DurationText.format(c.janitor(for: lease)))",
            ],
            supervisor: [
                "restart_backoff: \(DurationText.format(c.restartBackoff))",
                "restart_backoff_max: \(DurationText.format(c.restartBackoff))", "stable_after: 0s",
                "restart_intensity: 1000", "restart_period: 1s", "stop_grace: 2s", "start_timeout: 1m",
            ],
            args: mode == .otherHost ? ["--host", Self.otherHost] : [])
        var outcome = Outcome(
            point: SessionKillPoint(mode: mode, lease: lease, heartbeat: heartbeat, janitor: c.janitor(for: lease)))
        let up = try session.up()
        var killed: Set<Int32> = []
        for run in 1...c.runs {
            guard
                await pollUntil(
                    timeout: SessionUpBench.timeout, every: SessionBenchmark.pollInterval,
                    {
                        up.exitStatus != nil
                            || session.runningPids(supervisor: up.pid).map { !killed.contains($0[0]) } == true
                    }) != nil, up.exitStatus == nil
            else {
                _ = await session.stop(up, timeout: .seconds(10))
                throw BenchError(.process, "the bench role is not running (run \(run))\n" + session.logTail())
            }
            switch await killHolder(run: run, session: session, lease: lease, mode: mode) {
            case .success(let (sample, pid)):
                killed.insert(pid)
                outcome.point.samples.append(sample)
                report(
                    run,
                    "done \(format(sample.done * 1000)) ms after the kill (new pid after "
                        + "\(sample.respawn.map { format($0 * 1000) } ?? "-") ms, claimed again after "
                        + "\(sample.reclaim.map { format($0 * 1000) } ?? "-") ms)")
            case .failure(let failure):
                if let pid = failure.killed { killed.insert(pid) }
                outcome.point.errors += 1
                let message = "\(mode.label), lease \(DurationText.format(lease)), run \(run): \(failure.message)"
                outcome.messages.append(message)
                report(run, "ERROR " + failure.message)
            }
        }
        _ = await session.stop(up, timeout: .seconds(20))
        return outcome
    }

    /// Why a run did not give a sample.
    struct RunFailure: Error {
        var message: String
        /// The pid killed, if it got that far.
        var killed: Int32?
    }

    /// One kill; returns the sample and the pid killed.
    private func killHolder(
        run: Int, session: SessionBus, lease: Duration, mode: SessionKillMode
    ) async -> Result<(SessionKillSample, Int32), RunFailure> {
        let gate = session.folder + "/gate-\(run)"
        let id: String
        do {
            id = try session.publish(body: ["gate": .string(gate), "markers": .string(session.markers)])
        } catch {
            return .failure(RunFailure(message: "cannot publish: \(error)"))
        }
        var holder: Int32?
        guard
            await pollUntil(
                timeout: .seconds(30), every: SessionBenchmark.pollInterval,
                {
                    holder = session.claimer(of: id, epoch: 1)
                    return holder != nil
                }) != nil, let pid = holder
        else {
            return .failure(RunFailure(message: "envelope \(id) was not claimed within 30 s"))
        }

        // The benchmark acts on state.json, which the supervisor writes on its tick: without a
        // random gap every kill would fall at the same phase of the tick, and every re-spawn after
        // the same share of it. Not a wait for a condition: the holder holds the envelope meanwhile.
        try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<Self.supervisorTick.milliseconds)))

        // Frozen first, so the holder cannot see the open gate and finish the envelope itself.
        kill(pid, SIGSTOP)
        let fd = open(gate, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        let clock = ContinuousClock()
        let killedAt = clock.now
        guard kill(pid, SIGKILL) == 0 else {
            return .failure(RunFailure(message: "cannot SIGKILL pid \(pid) (errno \(errno))"))
        }

        var respawn: ContinuousClock.Instant?
        var reclaim: ContinuousClock.Instant?
        var epoch: Int?
        let limit = .seconds(30) + lease * 3
        let done = await pollUntil(timeout: limit, every: SessionBenchmark.pollInterval) {
            let now = clock.now
            if respawn == nil, let current = session.snapshot?.instances.first?.pid, current != pid {
                respawn = now
            }
            if reclaim == nil, session.claimer(of: id, epoch: 2) != nil { reclaim = now }
            epoch = session.doneEpoch(of: id)
            return epoch != nil
        }
        guard let done else {
            return .failure(
                RunFailure(
                    message: "envelope \(id) was not done \(DurationText.format(limit)) after the kill", killed: pid))
        }
        // Journal lines follow the moves they describe: the ack's follows the move into done/,
        // and the expire's can come after both, as the janitor fsyncs the folders of a durable
        // bus before it writes its line while the worker has already claimed and acked.
        var events: [JournalEvent] = []
        _ = await pollUntil(timeout: .seconds(5), every: SessionBenchmark.pollInterval) {
            events = session.events(of: id)
            return events.contains { $0.event == .ack } && events.contains { $0.event == .expire }
        }
        let ackEpoch = events.last { $0.event == .ack }?.epoch
        let reason = events.first { $0.event == .expire }?.reason
        let sample = SessionKillSample(
            respawn: respawn.map { ($0 - killedAt).seconds }, reclaim: reclaim.map { ($0 - killedAt).seconds },
            done: (done - killedAt).seconds, ackEpoch: ackEpoch, expireReason: reason)
        guard ackEpoch == 2, epoch == 2 else {
            return .failure(
                RunFailure(
                    message: "envelope \(id) was acked at epoch \(ackEpoch.map(String.init) ?? "none") "
                        + "(in done/ at epoch \(epoch.map(String.init) ?? "?")), not 2", killed: pid))
        }
        let expected = mode == .sameHost ? "is gone" : "heartbeat unchanged"
        guard let reason, reason.contains(expected) else {
            let journal = events.map { "\($0.event.rawValue)\($0.epoch.map { " e\($0)" } ?? "")" }
            return .failure(
                RunFailure(
                    message: "the killed holder's claim was released for another reason than \"\(expected)\": "
                        + (reason ?? "no expire event") + " (journal: " + journal.joined(separator: ", ") + ")",
                    killed: pid))
        }
        return .success((sample, pid))
    }
}
