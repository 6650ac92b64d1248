import FileFormats

#if canImport(Glibc)
    import Glibc
#endif

/// The checks across fields of a plan that has been read: unique task ids, known dependencies, no
/// dependency cycles, a git repository, and scopes that stay inside it.
struct PlanChecks {
    let read: PlanReader.Read

    var tasks: [PlanTask] { read.plan.tasks }

    /// Runs the checks in order, throwing the first failure.
    func check() throws(RoleError) {
        try uniqueIDs()
        try knownDependencies()
        try noCycles()
        try repository()
        try scopesInRepository()
    }

    /// A task id used twice is an error at the second task, naming the first's line.
    func uniqueIDs() throws(RoleError) {
        var first: [String: Int] = [:]
        for (index, task) in tasks.enumerated() {
            if let earlier = first[task.id] {
                let place = read.tasks[index].id
                let firstPlace = read.tasks[earlier].id
                throw fail(
                    place,
                    "duplicate task id \(QuotedText.quoted(task.id)) (first at line \(firstPlace.line), "
                        + "\(firstPlace.field)); give each task its own id")
            }
            first[task.id] = index
        }
    }

    /// A dependency on a task the plan does not have is an error at that dependency.
    func knownDependencies() throws(RoleError) {
        let ids = tasks.map(\.id)
        let known = Set(ids)
        for (index, task) in tasks.enumerated() {
            for (position, dependency) in task.dependsOn.enumerated() where !known.contains(dependency) {
                var what =
                    "task \(QuotedText.quoted(task.id)) depends on \(QuotedText.quoted(dependency, cutAt: PlanReader.shownLength)), which is not a task of this plan"
                if let near = KeySuggestion.closest(to: dependency, in: ids) {
                    what += "; did you mean \(QuotedText.quoted(near))?"
                }
                if ids.count <= 20 { what += " (tasks: \(ids.joined(separator: ", ")))" }
                throw fail(read.tasks[index].dependsOn[position], what)
            }
        }
    }

    /// A dependency cycle is an error at the first task of the cycle in file order, naming the
    /// cycle from that task, such as `a → b → c → a` (`a` depends on `b`, which depends on `c`, …).
    func noCycles() throws(RoleError) {
        guard let cycle = Self.cycle(in: tasks) else { return }
        let start = cycle.min() ?? cycle[0]
        let offset = cycle.firstIndex(of: start) ?? 0
        let ordered = Array(cycle[offset...] + cycle[..<offset])
        let next = tasks[ordered.count > 1 ? ordered[1] : ordered[0]].id
        let position = tasks[start].dependsOn.firstIndex(of: next) ?? 0
        let names = (ordered + [start]).map { tasks[$0].id }.joined(separator: " → ")
        throw fail(
            read.tasks[start].dependsOn[position],
            "dependency cycle \(names); remove one of these dependencies")
    }

    /// The indices of the tasks of some dependency cycle, each depending on the next and the last
    /// on the first, or `nil` when there is none. The search goes in file order, so the answer is
    /// always the same for the same plan. Every dependency must name a task.
    static func cycle(in tasks: [PlanTask]) -> [Int]? {
        var index: [String: Int] = [:]
        for (i, task) in tasks.enumerated() where index[task.id] == nil { index[task.id] = i }
        let edges = tasks.map { $0.dependsOn.compactMap { index[$0] } }
        // 0: not seen, 1: on the path being walked, 2: done (no cycle through it).
        var state = [UInt8](repeating: 0, count: tasks.count)
        for root in tasks.indices where state[root] == 0 {
            var path: [(task: Int, next: Int)] = [(root, 0)]
            state[root] = 1
            while let (task, next) = path.last {
                guard next < edges[task].count else {
                    state[task] = 2
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let dependency = edges[task][next]
                if state[dependency] == 1 {
                    let from = path.firstIndex { $0.task == dependency } ?? 0
                    return path[from...].map(\.task)
                }
                if state[dependency] == 0 {
                    state[dependency] = 1
                    path.append((dependency, 0))
                }
            }
        }
        return nil
    }

    /// The repository must be a folder with a `.git` folder or file in it (git is not run).
    func repository() throws(RoleError) {
        let path = read.plan.repository
        switch FilePaths.kind(of: path) {
        case .missing:
            throw fail(read.repository, "\(path) does not exist; name an existing git repository")
        case .file:
            throw fail(read.repository, "\(path) is a file, not a folder; name a git repository")
        case .folder:
            guard FilePaths.kind(of: path + "/.git") != .missing else {
                throw fail(
                    read.repository,
                    "\(path) is not a git repository (it has no .git); run git init there or name another folder")
            }
        }
    }

    /// A scope glob whose leading folders (the segments before its first wildcard) go through a
    /// symbolic link of the repository's work tree that leads out of the repository is an error
    /// at that glob: the glob would name paths outside the repository.
    func scopesInRepository() throws(RoleError) {
        guard let root = Self.realPath(read.plan.repository) else { return }
        for (index, task) in tasks.enumerated() {
            for (position, glob) in task.scope.enumerated() where position < read.tasks[index].scope.count {
                guard let (link, target) = Self.linkOut(of: glob, repository: read.plan.repository, root: root)
                else { continue }
                throw fail(
                    read.tasks[index].scope[position],
                    "\(QuotedText.quoted(glob, cutAt: PlanReader.shownLength)) goes through \(link), a symbolic "
                        + "link to \(target), outside the repository; name paths inside the repository")
            }
        }
    }

    /// The first symbolic link among the literal leading segments of `glob` in `repository` that
    /// resolves outside `root` (the repository's real path), and where it leads; `nil` when there
    /// is none.
    static func linkOut(of glob: String, repository: String, root: String) -> (String, String)? {
        var relative = ""
        for segment in glob.split(separator: "/") {
            if segment.contains(where: { "*?[\\".contains($0) }) { return nil }
            relative += (relative.isEmpty ? "" : "/") + segment
            let path = repository + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0 else { return nil }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                // A dangling link is judged by where its text points.
                let target =
                    realPath(path)
                    ?? FilePaths.resolve(linkText(path) ?? "", against: FilePaths.folder(of: path))
                if target != root && !target.hasPrefix(root == "/" ? "/" : root + "/") { return (relative, target) }
            case S_IFDIR: continue
            default: return nil
            }
        }
        return nil
    }

    /// The canonical absolute path of `path` (links resolved), or `nil` when it does not resolve.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The text of the symbolic link at `path`.
    static func linkText(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func fail(_ place: PlanReader.Place, _ what: String) -> RoleError {
        RoleError(.invalidPlan, "\(place.location): \(place.field): \(what)")
    }
}
