import Bus
import FileFormats
import Launcher
import Processes

/// The orchestration-overhead benchmark behind `planbus bench run`.
///
/// For each builder count it makes a fresh session (``RunSession``): a git repository, a plan of
/// independent tasks whose step sleeps (``RunPlanText``), a `planbus.yaml` running the product
/// roles with that many builders, its bus, and the real supervisor, `planbus up`, as a child
/// process. Once every role runs, it spawns `planbus submit` and polls the run's `status.json`
/// until the planner says the run is finished: the makespan. The ideal (``RunIdeal``) is the
/// steps run back to back by the builders, with the step's floor measured in the same session,
/// plus the run's mean verification from the journal; ``RunTimeline`` says where the rest went.
/// Then the same for a large plan of steps that do almost nothing, to show how the cost per task
/// grows with the plan.
///
/// Figures are reported, never asserted: a run that does not finish in time is reported as such.
public struct RunBenchmark: Sendable {
    /// What to run.
    public struct Configuration: Sendable {
        /// The builder counts of the main plan.
        public var builders: [Int] = [1, 2, 4, 8]
        /// Tasks in the main plan.
        public var tasks = 32
        /// Seconds each step of the main plan sleeps.
        public var stepSeconds = 1.0
        /// Tasks in the large plan (0: none).
        public var bigTasks = 500
        /// The builder counts of the large plan.
        public var bigBuilders: [Int] = [8]
        /// Seconds each step of the large plan sleeps (0: it only writes its file).
        public var bigStepSeconds = 0.0
        /// Verifier instances in every session.
        public var verifiers = 1
        /// Samples of the step floor per session.
        public var floorSamples = 3
        /// The longest one run may take, from submit.
        public var timeout: Duration = .seconds(1200)
        /// Where the scratch directory is made (the system temporary directory when `nil`).
        public var parentDirectory: String?
        /// Leave the scratch directory (repositories, buses, journals, logs) in place at the end.
        public var keep = false
        /// The `planbus` executable that provides `up`, `submit` and the roles.
        public var executable: String
        /// The command line, as recorded in the report.
        public var commandLine: String
        /// Seconds every session stays idle, once every role runs, before its memory is read and
        /// the plan submitted; then the memory is sampled during the run and read again at its end
        /// (0: memory is not read, and nothing waits).
        public var memoryIdleSeconds = 0.0

        /// The defaults: 32 tasks of 1 s with 1, 2, 4 and 8 builders, then 500 tasks with 8.
        public init() {
            executable = currentExecutable()
            commandLine = CommandLine.arguments.joined(separator: " ")
        }
    }

    /// How often the benchmark checks the conditions it waits for.
    static let pollInterval: Duration = .milliseconds(5)
    /// How often the memory of the session's processes is sampled during a run.
    static let memoryInterval: Duration = .milliseconds(100)

    /// What this benchmark runs.
    public let configuration: Configuration
    private let progress: @Sendable (String) -> Void

    /// A benchmark; `progress` receives one human-readable line per step (for stderr).
    public init(configuration: Configuration, progress: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.progress = progress
    }

    /// Runs every point and returns the report. The scratch directory is removed at the end.
    /// - Throws: ``BenchError`` when a session cannot be set up (roles that never all run, a
    ///   submit that fails); `LauncherError`, `BusError` or `RoleError` when the scratch session
    ///   cannot be made.
    public func run() async throws -> RunReport {
        let c = configuration
        guard c.tasks >= 1, !c.builders.isEmpty, c.builders.allSatisfy({ (1...64).contains($0) }),
            c.bigTasks >= 0, c.bigBuilders.allSatisfy({ (1...64).contains($0) }), (1...16).contains(c.verifiers),
            c.stepSeconds >= 0, c.bigStepSeconds >= 0, c.floorSamples >= 1
        else {
            throw BenchError(
                .invalidArgument,
                "tasks must be at least 1, builder counts from 1 to 64, verifiers from 1 to 16, steps not negative")
        }
        let scratch = try BenchDirectory(parent: c.parentDirectory)
        defer {
            if c.keep {
                progress("leaving the scratch directory \(scratch.root)")
            } else {
                progress("removing the scratch directory")
                scratch.removeAll()
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        var report = RunReport(configuration: c, machine: MachineInfo(path: scratch.root))
        progress("scratch directory \(scratch.root) (\(report.machine.filesystem), \(report.machine.cpus) CPUs)")
        for builders in c.builders {
            report.samples.append(
                try await measure(scratch: scratch, builders: builders, tasks: c.tasks, stepSeconds: c.stepSeconds))
        }
        if c.bigTasks > 0 {
            for builders in c.bigBuilders {
                report.big.append(
                    try await measure(
                        scratch: scratch, builders: builders, tasks: c.bigTasks, stepSeconds: c.bigStepSeconds))
            }
        }
        report.totalSeconds = (clock.now - start).seconds
        report.machine.loadAverageAfter = MachineInfo.loadAverage()
        return report
    }

    /// One run of a plan of `tasks` tasks with `builders` builders, in a session of its own.
    func measure(scratch: BenchDirectory, builders: Int, tasks: Int, stepSeconds: Double) async throws -> RunSample {
        let c = configuration
        let name = "n\(tasks)-b\(builders)"
        progress("\(tasks) tasks of \(RunPlanText.secondsText(stepSeconds)) s, \(builders) builders: setting up")
        let session = try RunSession(
            folder: try scratch.phase(name), executable: c.executable, builders: builders, verifiers: c.verifiers)
        try await session.prepare(tasks: tasks, stepSeconds: stepSeconds)
        let floor = try await stepFloor(
            folder: try scratch.phase(name + "-floor"), builders: builders, tasks: tasks, stepSeconds: stepSeconds)
        let probe = try FileCreateProbe.measure(
            label: "\(tasks) tasks with \(builders) builders", in: try scratch.phase(name + "-probe"))
        if let warning = probe.warning { progress("  warning: " + warning) }

        let clock = ContinuousClock()
        let cpuBefore = CPUTime.ofReapedChildren()
        let upStart = clock.now
        let up = try session.up()
        let running = await pollUntil(timeout: .seconds(60), every: Self.pollInterval) {
            up.exitStatus != nil || session.allRunning(supervisor: up.pid)
        }
        guard let running, up.exitStatus == nil else {
            await session.stop(up, timeout: .seconds(20))
            throw BenchError(.process, "not every role of \(name) ran within 60 s of planbus up\n" + session.logTail())
        }

        let run = "bench-\(name)"
        let memory = c.memoryIdleSeconds > 0 ? RoleMemoryProbe(statePath: session.files.state, supervisor: up.pid) : nil
        if let memory {
            progress(
                "  every role running after \(format((running - upStart).seconds * 1000)) ms; idle for "
                    + "\(format(c.memoryIdleSeconds)) s, then reading every process's memory")
            try await Task.sleep(for: .milliseconds(Int(c.memoryIdleSeconds * 1000)))
            memory.recordIdle()
        }
        progress("  every role running after \(format((running - upStart).seconds * 1000)) ms; submitting")
        let wallStart = Timestamp.now()
        let start = clock.now
        let submitted: ProgramRun
        do {
            submitted = try await session.submit(run: run)
        } catch {
            await session.stop(up, timeout: .seconds(20))
            throw error
        }
        var status = RunStatusFile(path: session.statusPath(run: run))
        var lastProgress = clock.now
        var lastMemory = clock.now
        let done = await pollUntil(timeout: c.timeout, every: Self.pollInterval) {
            if let memory, clock.now - lastMemory >= Self.memoryInterval {
                memory.sample()
                lastMemory = clock.now
            }
            let state = status.poll()
            if clock.now - lastProgress >= .seconds(10), let state {
                progress("  \(state.integrated) of \(state.tasks) integrated")
                lastProgress = clock.now
            }
            return state?.finished == true || up.exitStatus != nil
        }
        let end = clock.now
        let state = status.poll()
        memory?.recordEnd()
        await session.stop(up, timeout: .seconds(20))
        let cpu = CPUTime.ofReapedChildren() - cpuBefore

        let timeline = RunTimeline(
            events: session.events(run: run), steps: session.stepSeconds(run: run, tasks: tasks))
        var sample = RunSample(
            builders: builders, verifiers: c.verifiers, tasks: tasks, stepSeconds: stepSeconds, stepFloor: floor,
            startup: (running - upStart).seconds, submit: submitted.duration.seconds, makespan: (end - start).seconds,
            finished: done != nil && state?.finished == true, integrated: state?.integrated ?? 0, timeline: timeline)
        sample.cpuSeconds = cpu
        sample.fileCreate = probe
        sample.memory = memory?.result ?? []
        sample.cpus = MachineInfo(path: session.folder).cpus
        sample.plannerReads = RunPlannerReads(layout: session.bus.layout, run: run)
        if let published = timeline.goalPublished {
            sample.submitToGoal = Double(published.milliseconds - wallStart.milliseconds) / 1000
        }
        progress(
            "  \(sample.finished ? "finished" : "NOT finished") after \(format(sample.makespan * 1000)) ms: "
                + "\(sample.integrated) of \(tasks) integrated; ideal \(format(sample.ideal * 1000)) ms, "
                + "ratio \(format(sample.ratio, 3)); \(format(sample.cpuSeconds)) CPU s")
        return sample
    }

    /// `builders` copies of the plan's first steps spawned at once with `/bin/sh -c` in `folder`,
    /// as the builders spawn them, from the first spawn to the last exit: the median of
    /// ``Configuration/floorSamples`` samples, in seconds.
    func stepFloor(folder: String, builders: Int, tasks: Int, stepSeconds: Double) async throws -> Double {
        var samples: [Double] = []
        for _ in 0..<configuration.floorSamples {
            let clock = ContinuousClock()
            let start = clock.now
            var children: [ChildProcess] = []
            for index in 0..<builders {
                let id = RunPlanText.taskID(index % tasks, of: tasks)
                children.append(
                    try ChildProcess.spawn(
                        ["/bin/sh", "-c", RunPlanText.step(task: id, index: index, seconds: stepSeconds)],
                        directory: folder, stdout: .null, stderr: .null, diesWithParent: true, killsGroupOnExit: true))
            }
            for child in children {
                let exit = await child.wait()
                guard exit == .exited(0) else { throw BenchError(.process, "a step of the floor ended with \(exit)") }
            }
            samples.append((clock.now - start).seconds)
        }
        return RunStat(samples).median
    }
}
