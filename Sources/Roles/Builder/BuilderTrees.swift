import Bus
import Foundation
import Synchronization

/// The work trees one builder process keeps from one build to the next.
///
/// A builder builds in its own work trees of each run, `runs/<run>/trees/@<worker>` and
/// `@<worker>~2` (``names(of:)``): the second for a build that starts while the builder still
/// commits the one before in the first (``BusWorker/allowNextClaim()``). Each is added for its
/// first build there, then, for each later build while the builder has more work waiting, reset to
/// the next attempt's base (`git checkout --force -B`) and cleaned (`git clean -ffdx`, ignored
/// files too) instead of removed and added again. A tree reset and cleaned holds what a fresh
/// checkout of the base would, while git writes only the files that differ. A tree is owned by the
/// live builder that named it: by its claim while a build runs in it, and between builds by the
/// builder alone, which removes its trees as soon as its queue is empty (``releaseIdle()``, from
/// ``BuilderRole/idle(context:)``) and when it stops. The trees of a builder that died are removed
/// by the builder that takes its build over (the tree is on the attempt's branch) or by
/// `planbus janitor` (``StaleWorkTrees``), which judges the builder they name dead.
public final class BuilderTrees: Sendable {
    /// What a build may do with the tree at a path.
    public enum Use: Sendable, Equatable {
        /// Add the tree: this process keeps none there.
        case add
        /// Reset and clean the tree this process kept there.
        case reuse
        /// Builds of this process still run in every tree it may keep (a handler outlived its time
        /// limit): build in a tree of the claim's own.
        case busy
    }

    private struct Kept {
        var repository: String
        var busy: Bool
    }

    /// Kept trees by path.
    private let kept = Mutex<[String: Kept]>([:])

    public init() {}

    /// The name of `worker`'s first work tree in a run's `trees/` folder: `@` and the worker id,
    /// which no claim's tree name (`<task>.<attempt>.<candidate>.e<epoch>`, a task id starting
    /// with a letter or digit) can be.
    public static func name(of worker: WorkerID) -> String { "@" + worker.description }

    /// The names of the work trees `worker` may keep in a run's `trees/` folder: ``name(of:)``,
    /// then the same with `~2`.
    public static func names(of worker: WorkerID) -> [String] { [name(of: worker), name(of: worker) + "~2"] }

    /// The worker a tree name of ``names(of:)`` names; `nil` for any other name.
    public static func worker(named name: String) -> WorkerID? {
        guard name.hasPrefix("@") else { return nil }
        var id = name.dropFirst()
        if id.hasSuffix("~2") { id = id.dropLast(2) }
        return try? WorkerID(parsing: String(id))
    }

    /// Takes one of the trees at `paths` (this process's, ``names(of:)``) for a build in
    /// `repository`, marks it in use, and says whether to add it or reuse it: a tree kept from an
    /// earlier build in `repository` first, else the first one not in use; ``Use/busy`` (with the
    /// first path) when builds of this process still run in all of them.
    public func take(_ paths: [String], repository: String) -> (path: String, use: Use) {
        kept.withLock { trees in
            for path in paths {
                if let tree = trees[path], !tree.busy, tree.repository == repository,
                    FileManager.default.fileExists(atPath: path + "/.git")
                {
                    trees[path]?.busy = true
                    return (path, .reuse)
                }
            }
            for path in paths where trees[path]?.busy != true {
                trees[path] = Kept(repository: repository, busy: true)
                return (path, .add)
            }
            return (paths.first ?? "", .busy)
        }
    }

    /// Ends a build in the tree at `path`: kept for the next build when `keep`, else forgotten
    /// (the caller removed it, or is about to).
    public func give(_ path: String, keep: Bool) {
        kept.withLock { trees in
            if keep { trees[path]?.busy = false } else { trees[path] = nil }
        }
    }

    /// Removes every tree kept and not in use (with what git records of it); a tree whose removal
    /// fails is forgotten all the same, left to `planbus janitor`.
    /// - Returns: the paths removed.
    @discardableResult
    public func releaseIdle() async -> [String] {
        let idle = kept.withLock { trees in
            let idle = trees.filter { !$0.value.busy }
            for path in idle.keys { trees[path] = nil }
            return idle
        }
        var removed: [String] = []
        for (path, tree) in idle.sorted(by: { $0.key < $1.key }) {
            if (try? await Git(directory: tree.repository).removeWorktree(at: path)) != nil { removed.append(path) }
        }
        return removed
    }
}
