import Bus
import Foundation

/// The builders' work trees that no live builder or claim owns any more, found and removed by
/// `planbus janitor`.
///
/// A builder builds in its own trees of the run, `runs/<run>/trees/@<worker>` and `@<worker>~2`
/// (``BuilderTrees``), which it keeps between builds and removes once its queue is empty; a tree
/// of a builder that died is left behind, unless a builder that took its build over removed it.
/// In the rare case that builds of a process still run in both, a build makes one owned by its
/// claim, `runs/<run>/trees/<task>.<attempt>.<candidate>.e<epoch>`, and removes it when it ends;
/// the builder that takes an envelope over removes the trees of earlier epochs before and after
/// its build, but a tree that a killed holder's git went on making past both is left behind. This
/// sweep removes every tree of the trees folders whose builder is dead (``LivenessTracker``) or
/// whose claim is no longer in `q/builder/cur/`. The folders are listed before the claims: a tree
/// listed was made by a claim made before, which, if it is still held, the claims listed after
/// show.
public struct StaleWorkTrees: Sendable {
    /// The bus whose runs are swept.
    public let layout: BusLayout
    /// Judges the builders that own trees: one on this host is dead once its process is gone; one
    /// on another host only once this tracker saw its heartbeat unchanged for a lease (so a
    /// tracker that has only just looked judges it alive).
    public let liveness: LivenessTracker

    /// A sweep of the runs of the bus at `layout`, judging builders with `liveness` (such as a
    /// janitor's, ``Janitor/liveness``).
    public init(layout: BusLayout, liveness: LivenessTracker) {
        self.layout = layout
        self.liveness = liveness
    }

    /// The builders whose trees are in the trees folders now: a janitor that watches for a lease
    /// looks at each of them on every pass, so that ``sweep()`` can judge those on other hosts.
    public func builders() -> [WorkerID] {
        var workers: Set<WorkerID> = []
        for run in (try? FileOps.list(layout.runs)) ?? [] {
            for name in (try? FileOps.list(layout.run(run) + "/trees")) ?? [] {
                if let worker = BuilderTrees.worker(named: name) { workers.insert(worker) }
            }
        }
        return workers.sorted { $0.description < $1.description }
    }

    /// Removes every work tree no claim owns (with what git records of it).
    /// - Returns: the paths removed.
    public func sweep() async -> [String] {
        // The trees of each run: its folders, and those its repository still records (a tree
        // whose folder is gone).
        var found: [(run: String, name: String, repository: String?)] = []
        for run in ((try? FileOps.list(layout.runs)) ?? []).sorted() {
            let trees = layout.run(run) + "/trees"
            guard FileOps.exists(trees) else { continue }
            let repository = try? RunMessages.plan(of: run, layout: layout).repository
            var names = Set((try? FileOps.list(trees)) ?? [])
            if let repository {
                names.formUnion(await Self.recorded(in: repository, under: trees + "/"))
            }
            for name in names.sorted() { found.append((run, name, repository)) }
        }
        // A claim that cannot be read could own any of them: then nothing is removed.
        guard !found.isEmpty, let owned = ownedTrees() else { return [] }
        var removed: [String] = []
        for (run, name, planned) in found where !owned.contains(run + "/" + name) {
            if let builder = BuilderTrees.worker(named: name), liveness.verdict(for: builder) == .alive { continue }
            let trees = layout.run(run) + "/trees/"
            let path = trees + name
            let repository = Self.repository(of: path) ?? planned
            if let repository { try? await Git(directory: repository).removeWorktree(at: path) }
            if FileOps.exists(path) { try? FileManager.default.removeItem(atPath: path) }
            // A record git kept while the folder was there (its removal failed) goes now that the
            // folder is gone; a tree is removed only once git no longer records it either.
            var recorded = false
            if let repository, await Self.recorded(in: repository, under: trees).contains(name) {
                try? await Git(directory: repository).removeWorktree(at: path)
                recorded = await Self.recorded(in: repository, under: trees).contains(name)
            }
            if !FileOps.exists(path), !recorded { removed.append(path) }
        }
        return removed
    }

    /// The names of the work trees `repository` records under the folder `prefix`.
    static func recorded(in repository: String, under prefix: String) async -> [String] {
        ((try? await Git(directory: repository).worktrees()) ?? []).compactMap { tree in
            guard tree.path.hasPrefix(prefix) else { return nil }
            let name = tree.path.dropFirst(prefix.count)
            return name.isEmpty || name.contains("/") ? nil : String(name)
        }
    }

    /// `<run>/<tree name>` of every build claimed now; `nil` when a claim cannot be read (or the
    /// claims folder cannot be listed).
    func ownedTrees() -> Set<String>? {
        let cur = layout.cur(RoleName.builder.rawValue)
        guard let names = try? FileOps.list(cur) else { return FileOps.exists(cur) ? nil : [] }
        var owned: Set<String> = []
        for name in names {
            guard let claim = QueueNames.parseClaim(name) else { continue }  // not a claim: owns nothing
            guard case .bytes(let bytes) = FileOps.readRegular(cur + "/" + name, limit: 1 << 26) else {
                // Settled meanwhile: its builder removes its own tree.
                if !FileOps.exists(cur + "/" + name) { continue }
                return nil
            }
            guard
                let envelope = try? Envelope(
                    decoding: bytes, limits: Limits(maxEnvelopeBytes: 1 << 26, maxDepth: 1_000)),
                let request = try? BuildRequest(envelope)
            else { return nil }
            owned.insert("\(request.run)/\(request.task).\(request.attempt).\(request.candidate).e\(claim.epoch)")
        }
        return owned
    }

    /// The repository a work tree belongs to, from its `.git` file (`gitdir:
    /// <repository>/.git/worktrees/<name>`); `nil` for a folder that is no work tree.
    static func repository(of tree: String) -> String? {
        guard case .bytes(let bytes) = FileOps.readRegular(tree + "/.git", limit: 4096) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("gitdir: "), let range = text.range(of: "/.git/worktrees/", options: .backwards) else {
            return nil
        }
        return String(text.dropFirst("gitdir: ".count)[..<range.lowerBound])
    }
}
