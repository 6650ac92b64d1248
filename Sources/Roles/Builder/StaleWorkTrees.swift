import Bus
import Foundation

/// The builders' work trees that no claim owns any more, found and removed by `planbus janitor`.
///
/// A builder adds its work tree as `runs/<run>/trees/<task>.<attempt>.<candidate>.e<epoch>`,
/// owned by its claim of that epoch, and removes it when its build ends; the builder that takes
/// an envelope over removes the trees of earlier epochs before and after its build. A tree that a
/// killed holder's git went on making past both is left behind: this sweep removes every tree of
/// the trees folders whose claim is no longer in `q/builder/cur/`. The folders are listed before
/// the claims: a tree listed was made by a claim made before, which, if it is still held, the
/// claims listed after show.
public struct StaleWorkTrees: Sendable {
    /// The bus whose runs are swept.
    public let layout: BusLayout

    /// A sweep of the runs of the bus at `layout`.
    public init(layout: BusLayout) {
        self.layout = layout
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
