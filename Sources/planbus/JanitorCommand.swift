import ArgumentParser
import Bus
import Roles

struct JanitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "janitor",
        abstract: "Tidy a bus: expired claims, due retries, unpublished results, stale staging files.",
        discussion: """
            Every worker runs the janitor for its own queue; this command runs it for all of them. \
            Holders on this host whose process is gone are found at once. Other holders can only be \
            judged dead after watching their heartbeat not change for a lease: --watch does that. \
            Then it removes the builders' work trees (runs/<run>/trees/) that no live builder or \
            claim owns any more: the trees a builder keeps between builds, once that builder is judged \
            dead (on another host: with --watch), and those a killed builder's git went on making \
            after the envelope was taken over.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Flag(help: "Watch for one lease (plus a pass), so holders on other hosts can be judged too.")
    var watch = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let bus = try busOptions.open()
            let janitor = Janitor(bus: bus, worker: try WorkerID.current(role: "janitor"))
            let sweep = StaleWorkTrees(layout: bus.layout, liveness: janitor.liveness)
            // The builders owning trees are looked at on every pass, as the claims' holders are.
            func look() { for builder in sweep.builders() { _ = janitor.liveness.verdict(for: builder) } }
            look()
            var report = janitor.pass()
            if watch {
                let deadline = ContinuousClock.now + .milliseconds(bus.settings.leaseMs + bus.settings.heartbeatMs)
                while ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(bus.settings.heartbeatMs))
                    look()
                    report.merge(janitor.pass())
                }
            }
            let trees = await sweep.sweep()
            if json {
                var object = report.json
                if case .object(var fields) = object {
                    fields["stale_work_trees_removed"] = .array(trees.map { .string($0) })
                    object = .object(fields)
                }
                emit(object.serialized())
            } else {
                emit(
                    "expired claims released: \(report.expired), retries requeued: \(report.requeued), "
                        + "results republished: \(report.republished), fenced results dropped: \(report.droppedWork), "
                        + "stale staging files removed: \(report.staleTmp), markers pruned: \(report.prunedMarkers), "
                        + "dead-lettered: \(report.deadLettered), old heartbeats removed: \(report.removedHeartbeats)")
                for note in report.notes { emit("note: \(note)") }
                for tree in trees { emit("stale work tree removed: \(tree)") }
            }
        }
    }
}

extension Janitor.Report {
    mutating func merge(_ other: Janitor.Report) {
        expired += other.expired
        requeued += other.requeued
        republished += other.republished
        droppedWork += other.droppedWork
        staleTmp += other.staleTmp
        prunedMarkers += other.prunedMarkers
        deadLettered += other.deadLettered
        removedHeartbeats += other.removedHeartbeats
        notes += other.notes
    }
}
