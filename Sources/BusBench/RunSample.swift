import Bus
import FileFormats

/// One measured run: a plan of `tasks` independent tasks built by `builders` builders.
public struct RunSample: Sendable {
    /// Builder instances.
    public var builders: Int
    /// Verifier instances.
    public var verifiers: Int
    /// Tasks in the plan.
    public var tasks: Int
    /// The seconds each step sleeps.
    public var stepSeconds: Double
    /// The floor of one step: `builders` copies of a task's step spawned with `/bin/sh -c` at
    /// once, from the first spawn to the last exit (the median of a few samples), in seconds.
    public var stepFloor: Double
    /// `planbus up` spawned → every role running in `state.json`, in seconds.
    public var startup: Double
    /// `planbus submit` spawned → it exited, in seconds.
    public var submit: Double
    /// `planbus submit` spawned → `status.json` says finished (or the time-out), in seconds.
    public var makespan: Double
    /// Whether the run finished before the time-out.
    public var finished: Bool
    /// Tasks integrated.
    public var integrated: Int
    /// Where the time went, from the journal.
    public var timeline: RunTimeline
    /// CPU seconds (user + system) of the supervisor, the roles and every process they ran (git,
    /// the steps), from `planbus up` spawned to its exit.
    public var cpuSeconds = 0.0
    /// The planner's reads, timed after the run.
    public var plannerReads = RunPlannerReads()
    /// Online CPUs.
    public var cpus = 1
    /// The memory of the supervisor and of every role process, idle and under load (empty unless
    /// ``RunBenchmark/Configuration/memoryIdleSeconds`` is set).
    public var memory: [RoleMemory] = []

    /// CPU seconds used per second of makespan, over the CPUs: 1 is every CPU busy throughout.
    public var cpuLoad: Double { makespan > 0 ? cpuSeconds / makespan / Double(Swift.max(cpus, 1)) : 0 }

    /// The ideal makespan: ``RunIdeal/seconds(tasks:builders:stepFloor:verify:)`` with the
    /// verifier's mean claim → ack of this run.
    public var ideal: Double {
        RunIdeal.seconds(tasks: tasks, builders: builders, stepFloor: stepFloor, verify: timeline.verify.mean)
    }

    /// makespan / ideal.
    public var ratio: Double { RunIdeal.ratio(makespan: makespan, ideal: ideal) }

    /// Makespan per task, in seconds.
    public var perTask: Double { tasks > 0 ? makespan / Double(tasks) : 0 }

    /// The makespan split so that the parts add up to it: the start (submit spawned → goal
    /// acked), the build phase (goal acked → last builder ack), and the tail (last builder ack →
    /// `status.json` seen finished). The planner writes `status.json` before it acks its last
    /// input, so the tail can end a few milliseconds before the journal's last planner ack.
    public var parts: (start: Double, build: Double, tail: Double) {
        let t = timeline
        let start = t.goalWait + t.goalHandling + submitToGoal
        return (start, t.buildPhase, makespan - start - t.buildPhase)
    }

    /// Submit spawned → goal published, from the journal's publish time and the wall clock read
    /// when `planbus submit` was spawned.
    public var submitToGoal: Double = 0
    /// What creating a file cost in the scratch directory just before the session started.
    public var fileCreate: FileCreateProbe?

    /// The sample as JSON.
    public var json: JSONValue {
        let t = timeline
        let p = parts
        let growth = t.plannerGrowth()
        var o: [String: JSONValue] = [
            "builders": .number(Double(builders)), "verifiers": .number(Double(verifiers)),
            "tasks": .number(Double(tasks)), "step_seconds": .number(stepSeconds),
            "finished": .bool(finished), "integrated": .number(Double(integrated)),
            "makespan_ms": rounded(makespan * 1000, 1), "ideal_ms": rounded(ideal * 1000, 1),
            "ratio": rounded(ratio, 3), "per_task_ms": rounded(perTask * 1000, 1),
            "step_floor_ms": rounded(stepFloor * 1000, 1), "startup_ms": rounded(startup * 1000, 1),
            "submit_ms": rounded(submit * 1000, 1), "cpu_seconds": rounded(cpuSeconds, 2),
            "cpu_per_task_ms": rounded(tasks > 0 ? cpuSeconds * 1000 / Double(tasks) : 0, 1),
            "cpu_load": rounded(cpuLoad, 3), "planner_reads_after_run": plannerReads.json,
            "parts_ms": [
                "start": rounded(p.start * 1000, 1), "build_phase": rounded(p.build * 1000, 1),
                "tail": rounded(p.tail * 1000, 1),
            ],
            "journal": [
                "submit_to_goal_ms": rounded(submitToGoal * 1000, 1),
                "goal_wait_ms": rounded(t.goalWait * 1000, 1), "goal_handling_ms": rounded(t.goalHandling * 1000, 1),
                "first_builder_claim_ms": rounded(t.firstClaim * 1000, 1),
                "builder_wall": t.builderWall.json, "builder_step": t.builderStep.json,
                "builder_overhead": t.builderOverhead.json, "handoff": t.handoff.json,
                "verify": t.verify.json, "stages": .array(t.stages.map(\.json)),
                "planner_per_input": t.planner.json,
                "planner_first_tenth_mean_ms": rounded(growth.first * 1000, 1),
                "planner_last_tenth_mean_ms": rounded(growth.last * 1000, 1),
                "planner_slope_us_per_input": rounded(t.plannerSlope * 1e6, 1),
                "last_builder_ack_to_last_planner_ack_ms": rounded(t.tail * 1000, 1),
                "tail_steps": .array(t.tailSteps.map(\.json)),
                "journal_span_ms": rounded(t.journalSpan * 1000, 1),
            ],
        ]
        if !memory.isEmpty { o["memory"] = .array(memory.map(\.json)) }
        o["file_create"] = fileCreate?.json ?? .null
        return .object(o)
    }
}

/// The ideal makespan of a plan of independent, equal tasks, and the ratio to it.
public enum RunIdeal {
    /// `ceil(tasks / builders) × stepFloor + verify`: the builders run the steps back to back in
    /// `ceil(tasks / builders)` rounds with no cost between them, and only the last verification
    /// cannot overlap a build. With 32 tasks and 1, 2, 4 or 8 builders the rounds are exactly
    /// `tasks / builders`.
    public static func seconds(tasks: Int, builders: Int, stepFloor: Double, verify: Double) -> Double {
        guard tasks > 0, builders > 0 else { return 0 }
        let rounds = (tasks + builders - 1) / builders
        return Double(rounds) * stepFloor + verify
    }

    /// makespan / ideal, or 0 when the ideal is not positive.
    public static func ratio(makespan: Double, ideal: Double) -> Double {
        ideal > 0 ? makespan / ideal : 0
    }
}
