import Bus

#if canImport(Glibc)
    import Glibc
#endif

/// A reader of one run's `status.json` that parses the file only when it has been replaced.
///
/// The planner replaces the file (a rename) after every input, so a change of inode, size or
/// modification time is a new state; between changes a check costs one `stat(2)`. That keeps the
/// benchmark's own polling from taking CPU time from the roles it measures.
struct RunStatusFile {
    /// What the file says.
    struct State: Equatable {
        /// Whether the planner says the run is finished.
        var finished: Bool
        /// Tasks in state `integrated`.
        var integrated: Int
        /// Tasks in all.
        var tasks: Int
    }

    let path: String
    private var seen: (inode: UInt, size: Int, seconds: Int, nanoseconds: Int)?
    private(set) var state: State?

    init(path: String) { self.path = path }

    /// Reads the file again if it changed since the last call, and returns its state (`nil`
    /// until the planner has written it).
    mutating func poll() -> State? {
        var info = stat()
        guard stat(path, &info) == 0 else { return state }
        let now = (UInt(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec))
        if let seen, seen == now { return state }
        guard case .bytes(let bytes) = FileOps.readRegular(path, limit: 64 << 20),
            let status = try? JSONValue.parse(bytes)
        else { return state }
        seen = now
        let tasks = status["tasks"]?.arrayValue ?? []
        state = State(
            finished: status["finished"] == .bool(true),
            integrated: tasks.filter { $0["state"]?.stringValue == "integrated" }.count, tasks: tasks.count)
        return state
    }
}
