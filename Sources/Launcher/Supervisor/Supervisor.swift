import Bus
import Foundation
import Logging
import Processes
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Runs every configured role instance as its own process and keeps it running, one-for-one.
///
/// - Each instance is a child in its own process group, inheriting no file descriptors, killed by
///   the kernel if the supervisor dies (so a `SIGKILL` of the supervisor leaves no orphan).
/// - A child that dies is re-spawned after a backoff that doubles per crash and resets once it
///   has run for `stable_after`. More than `restart_intensity` restarts of a role within
///   `restart_period` mark the role failed (`ctl/failed.<role>.<host>`); other roles go on.
/// - A child whose heartbeat `progress` stalls past its hang timeout (the lease by default), or
///   that writes no heartbeat within `start_timeout`, is hung: SIGTERM to its group, SIGKILL
///   one second after its stop grace (the role's own grace ends first, so it can release its
///   envelope), then a re-spawn.
/// - `ctl/stop` (planbus down), SIGTERM or SIGINT stop every child gracefully, with the same
///   deadline; `ctl/restart.<role>` re-spawns that role's instances with the configuration re-read.
/// - While the bus's filesystem is full or read-only (``BusProblem``), no child is judged hung
///   and none is spawned: the roles back off by themselves, and supervision goes on once the bus
///   takes writes again. A bus folder that is deleted stops every child, and ``run()`` throws
///   ``LauncherError`` `notFound` saying so.
///
/// Its view is written to `sup/<host>/state.json` for `planbus ps`.
public final class Supervisor: Service, Sendable {
    /// How the supervisor reports.
    public enum Display: Sendable {
        /// A live status table redrawn on the terminal.
        case table
        /// One log line per event.
        case lines
    }

    /// Settings of a supervisor run.
    public struct Options: Sendable {
        /// The `planbus` executable that built-in roles run as (`planbus role NAME`).
        public var roleExecutable: String
        public var display: Display
        /// Where report lines and tables go.
        public var output: @Sendable (String) -> Void

        public init(roleExecutable: String, display: Display, output: @escaping @Sendable (String) -> Void) {
            self.roleExecutable = roleExecutable
            self.display = display
            self.output = output
        }
    }

    private enum Event: Sendable {
        case tick
        case exited(role: String, instance: Int, generation: Int, exit: ChildProcess.Exit)
        case shutdown
    }

    private let initialConfig: PlanbusConfig
    private let bus: Bus
    private let files: SupervisorFiles
    private let options: Options
    private let logger: Logger
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private let heldLock: SupervisorLock?

    /// A supervisor for `config`'s roles on `bus` (whose settings are already the configured ones).
    /// - Parameter lock: this host's supervisor lock, when the caller took it already; otherwise
    ///   ``run()`` takes it.
    public init(config: PlanbusConfig, bus: Bus, options: Options, logger: Logger, lock: SupervisorLock? = nil) {
        self.heldLock = lock
        self.initialConfig = config
        self.bus = bus
        self.files = SupervisorFiles(layout: bus.layout)
        self.options = options
        self.logger = logger
        (events, sink) = AsyncStream.makeStream(of: Event.self)
    }

    public func run() async throws {
        let lock = try heldLock ?? SupervisorLock.acquire(files)
        defer { lock.release() }
        var state = SupervisorState(
            config: initialConfig, bus: bus, files: files, options: options, logger: logger, now: .now)
        // A stop or failed marker left from before applies to the previous session, not this one.
        state.clearStaleMarkers()
        let ticker = Task { [sink] in
            while !Task.isCancelled {
                sink.yield(.tick)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { ticker.cancel() }
        await withGracefulShutdownHandler {
            for await event in events {
                let now = ContinuousClock.now
                switch event {
                case .tick:
                    state.tick(now: now)
                case .exited(let role, let instance, let generation, let exit):
                    state.exited(role: role, instance: instance, generation: generation, exit: exit, now: now)
                case .shutdown:
                    state.beginShutdown(reason: "signal", now: now)
                }
                for spawn in state.takeSpawnRequests() { launch(spawn, into: &state, now: now) }
                state.publish(now: now)
                if state.finished { break }
            }
        } onGracefulShutdown: { [sink] in
            sink.yield(.shutdown)
        }
        state.publish(now: .now, force: true)
        if let failure = state.failure { throw failure }
    }

    /// Starts one instance's process and wires its exit into the event stream.
    private func launch(
        _ request: SupervisorState.SpawnRequest, into state: inout SupervisorState, now: ContinuousClock.Instant
    ) {
        do {
            let child = try ChildProcess.spawn(
                request.arguments, environment: request.environment, directory: request.directory,
                stdout: .file(request.log), stderr: .file(request.log), newSession: true, diesWithParent: true,
                killsGroupOnExit: true)
            state.spawned(role: request.role, instance: request.instance, child: child, now: now)
            let generation = state.generation(role: request.role, instance: request.instance)
            Task { [sink] in
                let exit = await child.wait()
                sink.yield(.exited(role: request.role, instance: request.instance, generation: generation, exit: exit))
            }
        } catch {
            state.spawnFailed(role: request.role, instance: request.instance, error: "\(error)", now: now)
        }
    }
}
