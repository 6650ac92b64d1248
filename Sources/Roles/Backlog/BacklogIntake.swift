import Bus
import FileFormats

#if canImport(Glibc)
    import Glibc
#endif

/// Submits or refuses one taken backlog file, so that it leaves `.taking/` exactly once.
///
/// A submission publishes the goal (``RunSubmission/goal(planFile:text:plan:run:worker:id:created:)``,
/// the same envelope `planbus submit` sends) and then moves the file to `submitted/<run>.<name>`.
/// A refusal writes `refused/<name>.error` and then moves the file to `refused/<name>`. Each step
/// can be repeated: after a crash the file is still in `.taking/`, its goal id is the same, and a
/// goal the planner's queue has already received is not sent again.
struct BacklogIntake: Sendable {
    /// What became of a file.
    enum Outcome: Sendable, Equatable {
        /// Its goal went to the planner as run `run`, and the file moved to `moved`.
        case submitted(run: String, goal: String, moved: String)
        /// It is not a plan that can be run: `error` says why; the file moved to `moved`.
        case refused(error: String, moved: String)
    }

    let folder: BacklogFolder
    let bus: Bus
    let publisher: Publisher
    /// The planner's agent settings (whether the builder drives an agent).
    var agents: AgentSettings = .offline

    /// Submits or refuses `ticket`.
    /// - Throws: ``RoleError`` `io` when the bus or the folder refuses a write; the file stays in
    ///   `.taking/` and the same call can be made again.
    func finish(_ ticket: BacklogTicket) throws(RoleError) -> Outcome {
        let taken = folder.taking + "/" + ticket.fileName
        // The plan is checked where it was dropped, so a relative repository: is relative to the
        // backlog folder, as it is for `planbus submit` of the same file there.
        let file = folder.path + "/" + ticket.name
        let limit = bus.settings.limits.maxEnvelopeBytes
        let bytes: [UInt8]
        switch FileOps.readRegular(taken, limit: limit) {
        case .bytes(let b): bytes = b
        case .missing: throw RoleError(.io, "backlog \(folder.path): \(taken) vanished while it was being submitted")
        case .tooLarge(let size):
            return try refuse(ticket, "\(file): \(size) bytes, more than a goal can carry (\(limit) bytes)")
        case .notRegular(let kind): return try refuse(ticket, "\(file): a \(kind), not a plan file")
        case .failed(let err):
            return try refuse(ticket, BusError(.io, "\(file): cannot be read", errno: err).description)
        }
        let run = ticket.run(content: bytes)
        let id = ticket.goalID(run: run)
        let moved = folder.submitted + "/" + run + "." + ticket.name
        if delivered(id) { return try move(taken, to: moved, .submitted(run: run, goal: id, moved: moved)) }
        let text: String
        do { text = try TextFile.decode(bytes, file: file) } catch { return try refuse(ticket, error.message) }
        let plan: Plan
        do {
            plan = try PlanLoader.parse(text, file: file)
        } catch {
            return try refuse(ticket, error.message)
        }
        let unsupported = RunSupport.unsupported(plan, agents: agents)
        guard unsupported.isEmpty else {
            return try refuse(
                ticket,
                "\(file): this plan cannot be run yet:\n" + unsupported.map { "  - " + $0 }.joined(separator: "\n"))
        }
        let goal: Envelope
        do {
            goal = try RunSubmission.goal(
                planFile: file, text: text, plan: plan, run: run, worker: publisher.worker, id: id,
                created: ticket.takenAt)
        } catch {
            return try refuse(ticket, error.message)
        }
        do {
            try publisher.publish(goal)
        } catch {
            if error.code == .invalidEnvelope { return try refuse(ticket, "\(file): \(error.message)") }
            throw RoleError(.io, "backlog \(folder.path): cannot send the goal of \(ticket.name): \(error.description)")
        }
        return try move(taken, to: moved, .submitted(run: run, goal: id, moved: moved))
    }

    /// Whether the planner's queue has received envelope `id` already: it is pending, claimed,
    /// or was delivered before (its duplicate marker).
    func delivered(_ id: String) -> Bool {
        let layout = bus.layout
        if FileOps.exists(layout.seen("planner") + "/" + id) { return true }
        if FileOps.exists(layout.new("planner") + "/" + QueueNames.pending(id: id, epoch: 0)) { return true }
        let claimed = (try? FileOps.list(layout.cur("planner"))) ?? []
        return claimed.contains { $0.hasPrefix(id + ".") }
    }

    /// Writes the reason beside the refused file, then moves the file there.
    func refuse(_ ticket: BacklogTicket, _ error: String) throws(RoleError) -> Outcome {
        let moved = folder.refused + "/" + ticket.name
        do {
            try FileOps.writeAtomically(
                Array((error + "\n").utf8), to: moved + ".error", stagingDirectory: folder.refused, mode: 0o644,
                durable: bus.settings.durable)
        } catch {
            throw RoleError(.io, "backlog \(folder.path): cannot write \(moved).error: \(error.description)")
        }
        return try move(folder.taking + "/" + ticket.fileName, to: moved, .refused(error: error, moved: moved))
    }

    /// Moves a finished file out of `.taking/` (replacing an earlier file of the same name).
    func move(_ from: String, to: String, _ outcome: Outcome) throws(RoleError) -> Outcome {
        guard FileOps.renameReplacing(from, to: to) else {
            let err = errno
            throw RoleError(
                .io, BusError(.io, "backlog \(folder.path): cannot move \(from) to \(to)", errno: err).description)
        }
        if bus.settings.durable {
            try? FileOps.syncDirectory(FileOps.parentPath(to))
            try? FileOps.syncDirectory(folder.taking)
        }
        return outcome
    }
}
