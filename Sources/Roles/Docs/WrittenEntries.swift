import Synchronization

/// The changelog entries this process knows to be on their run's integration branch: those it
/// committed, or found already there.
///
/// The ``DocsRole`` writes the entries of every `changelog` envelope waiting in its queue in one
/// commit; when their own envelopes come, it answers them from here without reading the branch
/// again. An entry on the branch stays there, since the branch only moves forward, by
/// compare-and-swap (``IntegrationBranch``). A process that starts afresh knows nothing and reads
/// the branch.
final class WrittenEntries: Sendable {
    private let keys = Mutex<Set<[String]>>([])

    init() {}

    /// Whether the entry of `task`'s `commit` in `run`, in `repository`, is known to be written.
    func contains(run: String, repository: String, task: String, commit: String) -> Bool {
        keys.withLock { $0.contains(Self.key(run, repository, task, commit)) }
    }

    /// Records `entries` of `run`, in `repository`, as written.
    func insert(_ entries: [Changelog.Entry], run: String, repository: String) {
        keys.withLock { keys in
            for entry in entries { keys.insert(Self.key(run, repository, entry.task, entry.commit)) }
        }
    }

    private static func key(_ run: String, _ repository: String, _ task: String, _ commit: String) -> [String] {
        [run, repository, task, commit]
    }
}
