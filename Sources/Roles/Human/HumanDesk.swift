import Bus

#if canImport(Glibc)
    import Glibc
#endif

/// Where people take part in runs: the requests waiting in `q/human/`, and the replies to them.
///
/// A reply is made by claiming the request from `q/human/new/` (as a worker of role `human`) and
/// acking the claim with the reply as its result, so the claim's rename decides who replies and
/// each request gets exactly one reply: a second reply finds nothing pending and fails with
/// ``RoleError/Code/notFound``. Claims of a replier that died before its ack go back to `new/` at
/// the next reply on this host (a janitor pass over the `human` queue runs first).
public struct HumanDesk: Sendable {
    /// The bus.
    public let bus: Bus

    /// A desk on `bus`.
    public init(bus: Bus) {
        self.bus = bus
    }

    private var layout: BusLayout { bus.layout }
    private var role: String { HumanRequest.role }

    /// The requests waiting for a person (in `new/`) and those a reply is being made for (in
    /// `cur/`), oldest first; only those of `run` when it is given. Files that are not valid
    /// envelopes are skipped (a reply dead-letters them).
    public func requests(run: String? = nil) -> [HumanRequest] {
        var found: [HumanRequest] = []
        for name in (try? FileOps.list(layout.new(role))) ?? [] where !name.hasPrefix(".") {
            guard let (_, deliveries) = QueueNames.parsePending(name),
                let envelope = read(layout.new(role) + "/" + name)
            else { continue }
            found.append(HumanRequest(envelope: envelope, name: name, deliveries: deliveries))
        }
        for name in (try? FileOps.list(layout.cur(role))) ?? [] where !name.hasPrefix(".") {
            guard let (_, epoch, holder) = QueueNames.parseClaim(name),
                let envelope = read(layout.cur(role) + "/" + name)
            else { continue }
            found.append(HumanRequest(envelope: envelope, name: name, deliveries: epoch - 1, holder: holder))
        }
        return
            found
            .filter { run == nil || $0.envelope.run == run }
            .sorted { ($0.envelope.created, $0.id) < ($1.envelope.created, $1.id) }
    }

    /// Answers the question `id` with `text`, as `user`.
    /// - Returns: The `answer` envelope, published to the question's ``HumanRequest/replyTo``.
    /// - Throws: ``RoleError`` `notFound` when no question `id` is pending (never asked, already
    ///   answered, or being answered right now), `invalidRequest` when `id` is an approval or
    ///   another kind, or the question cannot be answered as asked (its `reply_to` is not a role).
    public func answer(_ id: String, text: String, by user: String) throws(RoleError) -> Envelope {
        tidy()
        guard let request = requests().first(where: { $0.id == id }) else {
            throw RoleError(.notFound, "no pending question \(id) on \(layout.root): \(fate(of: id))")
        }
        if request.isApproval {
            let target = "\(request.envelope.run) \(request.envelope.task ?? "TASK")"
            throw RoleError(
                .invalidRequest,
                "\(id) is an approval request, not a question: use planbus approve \(target) "
                    + "or planbus reject \(target) --reason TEXT")
        }
        guard request.isQuestion else {
            throw RoleError(
                .invalidRequest, "\(id) is a \(request.kind) envelope, not a question; it cannot be answered")
        }
        let sent = try reply(to: request, what: "question \(id)") { worker in
            HumanReply.answer(to: request, text: text, by: user, from: worker)
        }
        guard let sent else { throw RoleError(.io, "no answer was made to question \(id)") }
        return sent
    }

    /// What ``decide(run:task:approved:reason:by:)`` did.
    public struct Decision: Sendable, Equatable {
        /// The `decision` envelope, published to the approval's ``HumanRequest/replyTo``.
        public var reply: Envelope
        /// Ids of older approval requests of the same task that were closed without a reply,
        /// since the decision on the newest one supersedes them.
        public var superseded: [String]
    }

    /// Approves or rejects the pending approval of `task` in `run` (the highest attempt's, when
    /// several wait), as `user`. Older approval requests of the task still pending are closed
    /// (acked without a reply): the planner waits only for the newest.
    /// - Returns: The decision sent, and the requests it superseded.
    /// - Throws: ``RoleError`` `notFound` when no approval of that task is pending,
    ///   `invalidRequest` when a rejection has no reason or the request cannot be answered as
    ///   asked.
    public func decide(run: String, task: String, approved: Bool, reason: String?, by user: String)
        throws(RoleError) -> Decision
    {
        if !approved && (reason ?? "").allSatisfy(\.isWhitespace) {
            throw RoleError(.invalidRequest, "a rejection needs a reason (--reason TEXT)")
        }
        tidy()
        let all = requests(run: run).filter { $0.isApproval && $0.envelope.task == task }
        let pending = all.filter { $0.holder == nil }
        // The newest request, held or not: a decision is about the newest attempt only.
        let newest = all.max(by: {
            ($0.envelope.attempt, $0.envelope.created, $0.id) < ($1.envelope.attempt, $1.envelope.created, $1.id)
        })
        guard let request = newest, request.holder == nil else {
            var why = "no approval was asked for it"
            if let held = newest?.holder {
                why = "its approval is being decided right now by \(held)"
            } else if settled(HumanRequest.approval, run: run, task: task) {
                why = "its approval was already decided"
            }
            throw RoleError(.notFound, "no pending approval for task \(task) of run \(run) on \(layout.root): \(why)")
        }
        let what = "the approval of task \(task) of run \(run)"
        let sent = try reply(to: request, what: what) { worker in
            HumanReply.decision(on: request, approved: approved, reason: reason, by: user, from: worker)
        }
        guard let sent else { throw RoleError(.io, "no decision was made on \(what)") }
        var older: [String] = []
        for old in pending where old.id != request.id {
            do {
                try reply(to: old, what: "approval \(old.id)", nil)
                older.append(old.id)
            } catch let error where error.code == .notFound {
                continue  // answered meanwhile by someone else: nothing left to close
            }
        }
        return Decision(reply: sent, superseded: older)
    }

    /// The name replies are signed with: `$USER`, else `$LOGNAME`, else the name of this
    /// process's user id in the password database, else `uid <n>`.
    public static func user(environment: [String: String]) -> String {
        for key in ["USER", "LOGNAME"] {
            if let name = environment[key], !name.isEmpty { return name }
        }
        let uid = getuid()
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name, let text = String(validatingCString: name),
            !text.isEmpty
        {
            return text
        }
        return "uid \(uid)"
    }

    /// Claims `request` and acks it with the reply `make` builds for the claiming worker, or with
    /// none when `make` is `nil`.
    @discardableResult
    private func reply(to request: HumanRequest, what: String, _ make: ((WorkerID) -> Envelope)?)
        throws(RoleError) -> Envelope?
    {
        if let holder = request.holder {
            throw RoleError(.notFound, "no pending \(what): it is being answered right now by \(holder)")
        }
        do throws(BusError) {
            try Limits.checkRole(request.replyTo, field: "reply_to")
        } catch {
            throw RoleError(.invalidRequest, "\(what) cannot be answered: \(error.message)")
        }
        do {
            let worker = try WorkerID.current(role: role)
            let queue = try RoleQueue(bus: bus, role: role, worker: worker)
            let claim: Claim
            switch try queue.claim(request.name) {
            case .claimed(let c): claim = c
            case .lost, .ignored:
                throw RoleError(.notFound, "no pending \(what): it was answered just now by someone else")
            case .deadLettered(let reason):
                throw RoleError(
                    .notFound, "no pending \(what): it is not a valid request and was dead-lettered: \(reason)")
            }
            let reply = make?(worker)
            do throws(BusError) {
                try queue.ack(claim, outputs: reply.map { [$0] } ?? [])
            } catch {
                try? queue.release(claim, reason: "reply refused: \(error.message)")
                switch error.code {
                case .fenced:
                    throw RoleError(.notFound, "no pending \(what): it was taken over while the reply was made")
                case .invalidEnvelope:
                    throw RoleError(.invalidRequest, "\(what) cannot be answered: \(error.message)")
                default:
                    throw RoleError(.io, "cannot reply to \(what): \(error.message)")
                }
            }
            return reply
        } catch let error as RoleError {
            throw error
        } catch {
            throw RoleError(.io, "cannot reply to \(what): \(error)")
        }
    }

    /// One janitor pass over the `human` queue: claims of repliers that died go back to `new/`,
    /// replies committed but not yet published are published.
    private func tidy() {
        guard FileOps.isDirectory(layout.queue(role)), let worker = try? WorkerID.current(role: role) else { return }
        _ = Janitor(bus: bus, worker: worker).pass(roles: [role])
    }

    /// What became of request `id`, when it is not pending.
    private func fate(of id: String) -> String {
        if settledNames().contains(where: { $0.hasPrefix(id + ".") }) { return "it was already answered" }
        let dead = (try? FileOps.list(layout.dead(role))) ?? []
        if dead.contains(where: { $0.hasPrefix(id + ".") && !$0.hasSuffix(".reason.json") }) {
            return "it was dead-lettered (planbus show \(id))"
        }
        return "nothing with that id was asked (planbus questions lists what is)"
    }

    /// True when a request of `kind` for `task` of `run` was acked (replied to).
    private func settled(_ kind: String, run: String, task: String) -> Bool {
        for day in (try? FileOps.list(layout.done(role))) ?? [] {
            for name in (try? FileOps.list(layout.done(role, day: day))) ?? [] {
                if let envelope = read(layout.done(role, day: day) + "/" + name), envelope.kind == kind,
                    envelope.run == run, envelope.task == task
                {
                    return true
                }
            }
        }
        return false
    }

    /// The names in every `done/<day>/` folder of the queue.
    private func settledNames() -> [String] {
        ((try? FileOps.list(layout.done(role))) ?? []).flatMap { day in
            (try? FileOps.list(layout.done(role, day: day))) ?? []
        }
    }

    private func read(_ path: String) -> Envelope? {
        guard case .bytes(let bytes) = FileOps.readRegular(path, limit: bus.settings.maxEnvelopeBytes) else {
            return nil
        }
        return try? Envelope(decoding: bytes, limits: bus.settings.limits)
    }
}
