extension JournalReader {
    /// The epochs at which envelope `id` was handed back unprocessed in `role`'s queue (`release`
    /// events: a stopping worker's release or a deferral), from every worker's file of `run`.
    ///
    /// A missing or unreadable journal gives fewer epochs, never more: the envelope is then
    /// dead-lettered sooner, not retried for ever.
    public func releasedEpochs(id: String, role: String, run: String) -> Set<Int> {
        var epochs = Set<Int>()
        for event in events(run: run) where event.event == .release && event.id == id && event.role == role {
            if let epoch = event.epoch { epochs.insert(epoch) }
        }
        return epochs
    }
}
