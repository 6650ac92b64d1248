/// Where copies of an envelope id are in one role's queue, found by name: no envelope is read.
///
/// Exact names are checked first (`new/` and `done/` with each possible epoch), then the small
/// folders are listed (`cur/`, `retry/`, `dead/`). `planbus show` wants every copy; a timeline
/// wants the first.
enum QueueCopies {
    /// The copies of `id` in `role`'s queue, with their paths; `list` lists a folder (cached or not).
    /// A dead copy's reason is not read here (it is in `<path>.reason.json`).
    static func find(
        _ id: String, role: String, bus: Bus, firstOnly: Bool, list: (String) -> [String]
    ) -> [(state: Timeline.State, path: String)] {
        let layout = bus.layout
        let maxEpoch = bus.settings.maxAttempts + 1
        var found: [(state: Timeline.State, path: String)] = []
        func add(_ state: Timeline.State, _ path: String) -> Bool {
            found.append((state, path))
            return firstOnly
        }
        for epoch in 0...maxEpoch {
            let path = layout.new(role) + "/" + QueueNames.pending(id: id, epoch: epoch)
            if FileOps.exists(path), add(.waiting(epoch: epoch), path) { return found }
        }
        let doneDir = layout.done(role, day: QueueNames.day(of: id))
        for epoch in 1...maxEpoch {
            let path = doneDir + "/" + QueueNames.settled(id: id, epoch: epoch)
            if FileOps.exists(path), add(.done(epoch: epoch), path) { return found }
        }
        let prefix = id + ".e"
        for name in list(layout.cur(role)) where name.hasPrefix(prefix) {
            if let (cid, epoch, worker) = QueueNames.parseClaim(name), cid == id,
                add(.claimed(by: worker.description, epoch: epoch), layout.cur(role) + "/" + name)
            {
                return found
            }
        }
        for name in list(layout.retry(role)) where name.hasPrefix(prefix) {
            if let (rid, epoch, _) = QueueNames.parseRetry(name), rid == id,
                add(.retry(epoch: epoch, reason: nil), layout.retry(role) + "/" + name)
            {
                return found
            }
        }
        for name in list(layout.dead(role)) where name.hasPrefix(prefix) && !name.hasSuffix(".reason.json") {
            if add(.dead(reason: nil), layout.dead(role) + "/" + name) { return found }
        }
        return found
    }
}
