import Bus

/// One run of the `up` measurement, all in seconds.
public struct SessionUpSample: Sendable {
    /// `N` × `planbus --version` started in parallel, until the last exited (the floor).
    public var floorParallel: Double
    /// One `planbus --version`, start to exit.
    public var floorOne: Double
    /// From spawning `planbus up` until `hb/<role>/` holds a heartbeat file per instance.
    public var heartbeatFiles: Double
    /// From spawning `planbus up` until `state.json` shows every instance `running`.
    public var running: Double
    /// From SIGTERM to the supervisor's exit, every role stopped (`nil` when it had to be killed).
    public var stop: Double?

    /// ``running`` over the floor.
    public var ratio: Double { floorParallel > 0 ? running / floorParallel : 0 }
    /// ``heartbeatFiles`` over the floor.
    public var heartbeatRatio: Double { floorParallel > 0 ? heartbeatFiles / floorParallel : 0 }

    var json: JSONValue {
        [
            "floor_parallel_ms": rounded(floorParallel * 1000, 1), "floor_one_process_ms": rounded(floorOne * 1000, 1),
            "heartbeat_files_ms": rounded(heartbeatFiles * 1000, 1), "all_running_ms": rounded(running * 1000, 1),
            "ratio_running_to_floor": rounded(ratio, 2), "stop_ms": stop.map { rounded($0 * 1000, 1) } ?? .null,
        ]
    }
}
