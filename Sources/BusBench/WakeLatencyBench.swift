import Bus
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What one wake-latency measurement found.
public struct WakeLatencyResult: Sendable {
    /// The wake mode measured.
    public var mode: WakeMode
    /// The poll period, in poll mode.
    public var pollMs: Int?
    /// Latency from just before the delivering rename to the consumer's wake batch.
    public var latency: LatencySummary
    /// Samples that got no wake-up within the timeout (not counted in ``latency``).
    public var missed: Int
}

/// Measures wake latency in one process: a consumer task blocked on a real `WakeSource`, and a
/// publisher that delivers one envelope at a time.
///
/// The publisher stages the envelope in `tmp/` exactly as `Publisher` does, reads the clock, and
/// renames it into `new/`; the consumer reads the clock as soon as its wake batch arrives (a batch
/// naming the file, or in poll mode the first rescan that finds it). Between samples the publisher
/// waits a random gap, so the consumer is idle (and, in poll mode, the publish falls at a random
/// phase of the poll period).
struct WakeLatencyBench: Sendable {
    let scratch: BenchDirectory
    static let role = "bench"

    func measure(mode: WakeMode, samples: Int, pollMs: Int) async throws -> WakeLatencyResult {
        let dir = try scratch.phase("wake-" + mode.rawValue)
        var settings = BusSettings()
        settings.durable = false
        settings.wake = mode
        settings.pollMs = pollMs
        var bus = try Bus.create(at: dir + "/bus", settings: settings, roles: [Self.role]).bus
        // PLANBUS_WAKE / PLANBUS_POLL_MS in the environment must not change what is measured.
        bus.settings.wake = mode
        bus.settings.pollMs = pollMs
        let layout = bus.layout
        let newDir = layout.new(Self.role)
        let wake = WakeSource(directories: [newDir], root: layout.root, settings: bus.settings)
        let probe = WakeProbe(newDirectory: newDir, polling: mode == .poll)
        let sender = try WorkerID.current(role: "bench-producer")
        let timeout: Duration = mode == .poll ? .milliseconds(pollMs * 4 + 1_000) : .seconds(2)

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await wake.runTimers() }
            group.addTask {
                for await batch in wake { probe.observe(batch, at: ContinuousClock.now) }
            }
            defer {
                wake.finish()
                group.cancelAll()
            }
            guard case .ready = await probe.events.receive(timeout: .seconds(10)) else {
                throw BenchError(.unexpectedState, "the \(mode.rawValue) wake source never became live")
            }
            var latencies: [Duration] = []
            var missed = 0
            for sample in 0..<samples {
                let gapMs = mode == .poll ? Int.random(in: 0..<pollMs) : Int.random(in: 1...3)
                try await Task.sleep(for: .milliseconds(gapMs))
                let envelope = Envelope(run: "bench-wake", kind: "bench", from: sender, to: Self.role)
                let bytes = try envelope.encoded()
                let name = QueueNames.pending(id: envelope.id, epoch: 0)
                let staged = layout.tmp + "/" + QueueNames.staging("pub")
                guard let fd = try FileOps.createExclusive(staged, mode: Bus.fileMode) else {
                    throw BenchError(.io, "staging name collision at \(staged)")
                }
                try FileOps.writeAll(fd, bytes, path: staged)
                try FileOps.closeChecked(fd, path: staged)
                probe.arm(sample: sample, name: name, at: ContinuousClock.now)
                guard Glibc.rename(staged, newDir + "/" + name) == 0 else {
                    throw BenchError(.io, "cannot rename \(staged)", errno: errno)
                }
                while true {
                    guard let event = await probe.events.receive(timeout: timeout) else {
                        probe.disarm()
                        FileOps.removeFile(newDir + "/" + name)
                        missed += 1
                        break
                    }
                    if case .latency(sample, let latency) = event {
                        latencies.append(latency)
                        break
                    }
                }
            }
            return WakeLatencyResult(
                mode: mode, pollMs: mode == .poll ? pollMs : nil, latency: LatencySummary(latencies), missed: missed)
        }
    }
}

/// The consumer side of the wake-latency measurement.
final class WakeProbe: Sendable {
    enum Event: Sendable {
        /// The wake source is live (its watch is in place, or it polls).
        case ready
        /// Sample `n` was seen after this long.
        case latency(Int, Duration)
    }

    private struct Armed {
        var sample: Int
        var name: String
        var start: ContinuousClock.Instant
    }

    private struct State {
        var ready = false
        var armed: Armed?
    }

    let events = Mailbox<Event>()
    private let state = Mutex(State())
    private let newDirectory: String
    private let polling: Bool

    init(newDirectory: String, polling: Bool) {
        self.newDirectory = newDirectory
        self.polling = polling
    }

    /// Expects `name` to arrive; `start` is read just before the rename.
    func arm(sample: Int, name: String, at start: ContinuousClock.Instant) {
        state.withLock { $0.armed = Armed(sample: sample, name: name, start: start) }
    }

    func disarm() {
        state.withLock { $0.armed = nil }
    }

    /// Called by the consumer with each batch, `now` read as soon as it arrived.
    func observe(_ batch: WakeBatch, at now: ContinuousClock.Instant) {
        let (becameReady, armed) = state.withLock { s -> (Bool, Armed?) in
            if !s.ready {
                if polling || batch.reasons.contains("watch-added") || batch.reasons.contains("inotify-failed") {
                    s.ready = true
                    return (true, nil)
                }
                return (false, nil)
            }
            return (false, s.armed)
        }
        if becameReady {
            events.send(.ready)
            return
        }
        guard let armed else { return }
        let path = newDirectory + "/" + armed.name
        let hit = batch.names[newDirectory]?.contains(armed.name) == true || (batch.rescan && FileOps.exists(path))
        guard hit else { return }
        let current = state.withLock { s -> Bool in
            guard s.armed?.sample == armed.sample else { return false }
            s.armed = nil
            return true
        }
        guard current else { return }
        FileOps.removeFile(path)
        events.send(.latency(armed.sample, now - armed.start))
    }
}
