import Bus
import Foundation
import Logging
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// The bus demonstration behind `planbus demo bus`: real worker processes, a crash, a take-over.
///
/// Three `demo-work` processes compete for jobs; each job takes a moment and answers with a
/// `result` envelope to a `demo-collect` process. Mid-run one `demo-work` process is SIGKILLed while
/// it holds a claim; a surviving worker's janitor sees the holder is gone and the job is taken over
/// at epoch 2. The demo ends when every job's result is collected, and checks that each job was
/// done exactly once.
public struct BusDemo: Sendable {
    /// What the demonstration observed.
    public struct Outcome: Sendable {
        public var run: String
        public var jobs: [String]
        public var killedPID: Int32?
        public var takeovers: [JournalEvent]
        public var collected: Int
        public var doneEpochs: [String: Int]
        /// True when every job reached `done/` exactly once and every result was collected.
        public var exactlyOnce: Bool
    }

    /// The executable that serves `--worker-role` (normally this `planbus` binary).
    public var executable: String
    public var bus: Bus
    public var jobs: Int
    public var workMs: Int
    public var log: @Sendable (String) -> Void

    public init(
        executable: String, bus: Bus, jobs: Int = 12, workMs: Int = 400, log: @escaping @Sendable (String) -> Void
    ) {
        self.executable = executable
        self.bus = bus
        self.jobs = jobs
        self.workMs = workMs
        self.log = log
    }

    /// The handler a demo worker process runs for `role`.
    public static func handler(role: String, worker: WorkerID, workMs: Int) -> EnvelopeHandler {
        { claim in
            guard role == "demo-work" else { return .ack([]) }
            // Simulated work: the job takes this long.
            try await Task.sleep(for: .milliseconds(workMs))
            let result = Envelope(
                run: claim.envelope.run, task: claim.envelope.task, kind: "result", from: worker, to: "demo-collect",
                causation: claim.envelope.id,
                body: [
                    "summary": .string(
                        "\(claim.envelope.task ?? "job") done by pid \(worker.pid) at epoch \(claim.epoch)")
                ])
            return .ack([result])
        }
    }

    /// Runs the demonstration.
    public func run() async throws -> Outcome {
        let layout = bus.layout
        let runID = "demo-" + String(Timestamp.now().milliseconds)
        for role in ["demo-work", "demo-collect"] { try bus.ensureQueue(role) }
        log("bus: \(layout.root)   run: \(runID)")
        var children: [(role: String, process: ChildProcess)] = []
        func start(_ role: String) throws -> ChildProcess {
            let child = try ChildProcess.spawn(
                [executable, "demo", "bus", "--bus", layout.root, "--worker-role", role, "--work-ms", String(workMs)],
                stdout: .null, stderr: .file(layout.root + "/ctl/demo-\(role).log"))
            children.append((role, child))
            return child
        }
        defer {
            // Only children still running: a reaped child's pid (and group) may belong to another.
            for (_, child) in children where child.exitStatus == nil { child.sendToGroup(SIGKILL) }
        }
        for _ in 0..<3 { _ = try start("demo-work") }
        _ = try start("demo-collect")
        log(
            "started 3 demo-work processes and 1 demo-collect process: \(children.map { "\($0.role):\($0.process.pid)" }.joined(separator: " "))"
        )

        let me = try WorkerID.current(role: "demo")
        let publisher = Publisher(bus: bus, worker: me)
        var ids: [String] = []
        for i in 1...jobs {
            let job = Envelope(
                run: runID, task: "job-\(i)", kind: "job", from: me, to: "demo-work",
                body: ["summary": .string("job \(i) of \(jobs)")])
            try publisher.publish(job)
            ids.append(job.id)
        }
        log("published \(jobs) jobs to demo-work")

        // Wait until some worker holds a claim, then kill it: a crash in the middle of work.
        var killed: Int32?
        let victimDeadline = ContinuousClock.now + .seconds(20)
        while killed == nil && ContinuousClock.now < victimDeadline {
            for name in (try? FileOps.list(layout.cur("demo-work"))) ?? [] {
                guard let (id, _, holder) = QueueNames.parseClaim(name),
                    let child = children.first(where: { $0.process.pid == holder.pid && $0.role == "demo-work" })
                else { continue }
                child.process.send(SIGKILL)
                _ = await child.process.wait()
                killed = holder.pid
                log("SIGKILLed demo-work pid \(holder.pid) while it held \(id)")
                break
            }
            if killed == nil { try await Task.sleep(for: .milliseconds(10)) }
        }

        // Wait for every result to be collected.
        let deadline = ContinuousClock.now + .seconds(120)
        var collected = 0
        while ContinuousClock.now < deadline {
            collected = countDone(layout, role: "demo-collect", run: runID)
            if collected >= jobs { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        for (_, child) in children where child.exitStatus == nil { child.send(SIGTERM) }
        for (_, child) in children { _ = await child.wait() }
        log("all workers stopped")

        let events = JournalReader(layout: layout).events(run: runID)
        let takeovers = events.filter { $0.event == .expire }
        var epochs: [String: Int] = [:]
        var copies: [String: Int] = [:]
        for id in ids {
            let dir = layout.done("demo-work", day: QueueNames.day(of: id))
            for epoch in 1...(bus.settings.maxAttempts + 1)
            where FileOps.exists(dir + "/" + QueueNames.settled(id: id, epoch: epoch)) {
                epochs[id] = epoch
                copies[id, default: 0] += 1
            }
        }
        // Exactly once: every job done at one epoch, and one collected result answering each job.
        let answered = JournalReader(layout: layout).events(run: runID)
            .filter { $0.role == "demo-collect" && $0.event == .claim }.compactMap(\.causation)
        let once = ids.allSatisfy { copies[$0] == 1 } && answered.sorted() == ids.sorted()
        return Outcome(
            run: runID, jobs: ids, killedPID: killed, takeovers: takeovers, collected: collected, doneEpochs: epochs,
            exactlyOnce: once)
    }

    private func countDone(_ layout: BusLayout, role: String, run: String) -> Int {
        JournalReader(layout: layout).events(run: run).filter { $0.role == role && $0.event == .ack }.count
    }
}
