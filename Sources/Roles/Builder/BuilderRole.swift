import Bus
import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// The builder: makes one attempt of one task in its own git work tree and reports the commit.
///
/// For a `build` envelope (``BuildRequest``) it:
/// 1. removes the work trees earlier holders of the same envelope left, if any (their claims are
///    dead: this one holds it now, at a higher epoch), and takes one of its own two work trees of
///    the run, `runs/<run>/trees/@<worker>` or `@<worker>~2` (``BuilderTrees``): added for its
///    first build, or kept from an earlier one, reset and cleaned; the tree's branch is
///    ``BuildRequest/branch``, reset to the base commit (in the rare case that both are in use,
///    one by a handler of this process that outlived its time limit, the build makes a tree owned
///    by its claim instead, `runs/<run>/trees/<task>.<attempt>.<candidate>.e<epoch>`, and removes
///    it when done);
/// 2. runs the step with `/bin/sh -c` in it, with `PLANBUS_RUN`, `PLANBUS_TASK`,
///    `PLANBUS_ATTEMPT`, `PLANBUS_CANDIDATE` and `PLANBUS_FEEDBACK` (a file holding the previous
///    verdict's reasons, empty on the first attempt) in its environment, its output streamed to
///    `runs/<run>/<task>/<attempt>/builder.log` as it runs;
///    or, when the role drives an agent (``AgentCaller/isEnabled``), has the agent build it
///    instead (``BuilderAgentStep``): its transcript streamed to the same log, its final text kept
///    as the attempt's `step-report.md`; while every agent it may use is rate-limited, the work tree
///    is removed and the envelope deferred until the earliest reset;
/// 3. lets the worker claim the next build, which starts in the other tree
///    (`BusWorker.allowNextClaim()`: the role runs with ``overlap``), and commits every change
///    with the trailers `Planbus-Run`, `Planbus-Task`, `Planbus-Attempt` (and
///    `Planbus-Candidate`); the branch keeps the commit, and the work tree is kept for the next
///    build (also after a question), removed once the builder's queue is empty
///    (``idle(context:)``), or at once when the build fails or is deferred;
/// 4. acks with a `built` envelope to the verifier: the commit (or none), the step's exit, the
///    diff's files and lines, the log; with an agent also `usage`, `agent` (`name`, `model`,
///    `session`, `outcome`, `message`), `step_report`, and `agent_outcome` when the call did not
///    end well (then `step_exit` is `null`).
///
/// The builder judges nothing: a failed step is reported as it is, and the verifier decides.
public struct BuilderRole: Role {
    /// The work trees this process keeps between builds.
    public let trees = BuilderTrees()

    public init() {}

    public var kinds: Set<String> { ["build"] }

    /// A build's commit and report overlap the next build
    /// (``commit(_:tree:git:log:claim:context:step:)``).
    public var overlap: Bool { true }

    /// Removes the work trees kept from the last builds: the queue is empty, or the role stops.
    public func idle(context: RoleContext) async {
        await trees.releaseIdle()
    }

    /// A build's work tree: the process's own, kept for its next build, or the claim's.
    struct BuildTree {
        let path: String
        let kept: Bool
    }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let request: BuildRequest
        do {
            request = try BuildRequest(claim.envelope)
        } catch {
            return .dead(error.message)
        }
        let agents = context.agents.isEnabled
        let layout = context.bus.layout
        let trees = layout.run(request.run) + "/trees"
        let name = "\(request.task).\(request.attempt).\(request.candidate)"
        let (own, use) = self.trees.take(
            BuilderTrees.names(of: context.worker).map { trees + "/" + $0 }, repository: request.repository)
        let tree = use == .busy ? trees + "/\(name).e\(claim.epoch)" : own
        let folder = request.attemptDirectory(in: layout)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: trees, withIntermediateDirectories: true)
        let log = folder + "/builder.log"
        let git = Git(directory: request.repository)

        // Work trees of earlier epochs of this envelope belong to dead claims: those in this
        // host's trees folder, and those git has on the attempt's branch under any path (a
        // holder on another host made its work tree under the path the bus has there). They are
        // looked for again once this build is done: a git the dead holder started may have gone
        // on making its tree for a moment after it died.
        func removeStaleTrees() async {
            // The first holder of an envelope has no earlier epochs to clean up after.
            guard claim.epoch > 1 else { return }
            var stale = ((try? FileManager.default.contentsOfDirectory(atPath: trees)) ?? [])
                .filter { $0.hasPrefix(name + ".e") && $0 != "\(name).e\(claim.epoch)" }.map { trees + "/" + $0 }
            // A tree whose add was killed before it took the branch is on none: it is found by
            // its path in this host's trees folder.
            stale += ((try? await git.worktrees()) ?? [])
                .filter { $0.branch == request.branch || $0.path.hasPrefix(trees + "/" + name + ".e") }.map(\.path)
                .filter { $0 != tree && !stale.contains($0) }
            for path in stale { try? await git.removeWorktree(at: path) }
            // A git of a dead holder killed while it held the branch's ref lock left the lock
            // file. Only this envelope's holder writes the branch, so it is removed now rather
            // than waited out (``GitLock``), which a holder killed while waiting would restart.
            if let common = try? await git.run(["rev-parse", "--git-common-dir"]) {
                let folder = common.hasPrefix("/") ? common : request.repository + "/" + common
                try? FileManager.default.removeItem(atPath: folder + "/refs/heads/" + request.branch + ".lock")
            }
        }
        await removeStaleTrees()
        let work = BuildTree(path: tree, kept: use != .busy)
        do {
            let reused = try await prepare(work, reuse: use == .reuse, request: request, git: git)
            appendLine(
                log,
                "# \(Timestamp.now()) work tree \(tree): "
                    + (reused
                        ? "kept from this builder's last build, reset to the base and cleaned" : "added at the base"))
        } catch {
            if work.kept { self.trees.give(tree, keep: false) }
            throw error
        }
        let disposition = try await buildInTree(
            request, agents: agents, tree: work, git: git, folder: folder, log: log, claim: claim, context: context)
        await removeStaleTrees()
        return disposition
    }

    /// Puts the base commit in the work tree, on the attempt's branch: a tree kept from the last
    /// build is reset and cleaned (ignored files too), so it holds what a fresh checkout would;
    /// any other is added. A kept tree that cannot be reset (removed under the builder, broken)
    /// is removed and added again.
    /// - Returns: whether the kept tree was reused.
    private func prepare(_ tree: BuildTree, reuse: Bool, request: BuildRequest, git: Git) async throws -> Bool {
        // Resets the branch to the base, also when a work tree of an earlier holder still has it.
        let checkout = ["checkout", "-q", "--force", "--ignore-other-worktrees", "-B", request.branch, request.base]
        if reuse {
            do {
                try await git.at(tree.path).run(checkout)
                try await git.at(tree.path).run(["clean", "-q", "-ffdx"])
                return true
            } catch {
                try? await git.removeWorktree(at: tree.path)
            }
        }
        // Added detached and empty, git runs one helper instead of three (`branch`, `symbolic-ref`,
        // `reset --hard`). --force takes over the path of a tree whose folder was removed.
        try await git.run(["worktree", "add", "--force", "--no-checkout", "--detach", tree.path, request.base])
        try await git.at(tree.path).run(checkout)
        return false
    }

    /// Ends the build's use of its work tree: a kept tree stays for the next build when `keep`;
    /// otherwise (and always for a claim's own tree) the tree is removed.
    private func finish(_ tree: BuildTree, git: Git, keep: Bool = true) async throws {
        if tree.kept && keep {
            trees.give(tree.path, keep: true)
            return
        }
        if tree.kept { trees.give(tree.path, keep: false) }
        try await git.removeWorktree(at: tree.path)
    }

    /// Builds in the work tree just prepared, removing it when the build throws.
    private func buildInTree(
        _ request: BuildRequest, agents: Bool, tree: BuildTree, git: Git, folder: String, log: String, claim: Claim,
        context: RoleContext
    ) async throws -> Disposition {
        do {
            if !agents, request.step == nil {
                return try await failedSetup(
                    request,
                    "task \(request.task) has no run step and role builder drives agent \(context.settings.agent): "
                        + "nothing can build it offline", tree: tree, git: git, log: log, claim: claim,
                    context: context)
            }
            if agents {
                return try await buildWithAgent(
                    request, in: tree, git: git, folder: folder, log: log, claim: claim, context: context)
            }
            return try await build(
                request, step: request.step ?? "", in: tree, git: git, folder: folder, log: log, claim: claim,
                context: context)
        } catch {
            // Left as it is, the tree would be removed by the next holder of this envelope; a
            // failure here is retried, so clean up now.
            try? await finish(tree, git: git, keep: false)
            throw error
        }
    }

    private func build(
        _ request: BuildRequest, step: String, in tree: BuildTree, git: Git, folder: String, log: String, claim: Claim,
        context: RoleContext
    ) async throws -> Disposition {
        let feedbackFile = folder + "/feedback.txt"
        try (request.feedback ?? "").write(toFile: feedbackFile, atomically: true, encoding: .utf8)
        let answersFile = folder + "/answers.txt"
        try request.answers.map { "Q: \($0.question)\nA: \($0.answer)\n" }.joined(separator: "\n")
            .write(toFile: answersFile, atomically: true, encoding: .utf8)
        let questionFile = folder + "/question.txt"
        try? FileManager.default.removeItem(atPath: questionFile)
        var environment = Foundation.ProcessInfo.processInfo.environment
        environment["PLANBUS_RUN"] = request.run
        environment["PLANBUS_TASK"] = request.task
        environment["PLANBUS_ATTEMPT"] = "\(request.attempt)"
        environment["PLANBUS_CANDIDATE"] = "\(request.candidate)"
        environment["PLANBUS_FEEDBACK"] = feedbackFile
        environment["PLANBUS_ANSWERS"] = answersFile
        environment["PLANBUS_QUESTION"] = questionFile
        appendLine(log, "# \(Timestamp.now()) attempt \(request.attempt) of \(request.task) by \(context.worker)")
        let redactor = Redactor(environment: environment, keys: context.agents.keyVariables)
        appendLine(log, "$ \(redactor.redact(step))")
        let exit = try await runStep(
            step, in: tree.path, environment: environment, log: log, timeout: request.timeout, redactor: redactor)
        appendLine(
            log, "# \(Timestamp.now()) step ended: \(exit.map { "\($0)" } ?? "timed out after \(request.timeout)")")
        context.heartbeat.progressed()

        if let data = FileManager.default.contents(atPath: questionFile),
            let question = String(data: data, encoding: .utf8).map(redactor.redact)?.trimmingCharacters(
                in: .whitespacesAndNewlines),
            !question.isEmpty
        {
            // The step asked instead of building: nothing is committed, and the question goes to
            // the planner, which forwards it to people and builds again with the answer.
            try await finish(tree, git: git)
            appendLine(log, "# the step asked a question; the attempt waits for the answer")
            let suffix = "question-\(request.task)-\(request.attempt)-\(request.candidate)"
            return .ack([
                Envelope(
                    id: RunMessages.derivedID(from: claim.envelope.id, suffix), run: request.run, task: request.task,
                    kind: RunMessages.question, from: context.worker, to: "planner", causation: claim.envelope.id,
                    attempt: request.attempt,
                    body: [
                        "question": .string(question), "attempt": .number(Double(request.attempt)),
                        "candidate": .number(Double(request.candidate)), "log": .string(log),
                        "summary": .string("the step of \(request.task) asks: \(question.prefix(80))"),
                    ])
            ])
        }

        var exitJSON: JSONValue = .null
        if case .exited(let code) = exit { exitJSON = .number(Double(code)) }
        let signal: JSONValue =
            exit.flatMap { if case .signaled(let s) = $0 { return .number(Double(s)) } else { return nil } } ?? .null
        return try await commit(
            request, tree: tree, git: git, log: log, claim: claim, context: context,
            step: ["step_exit": exitJSON, "step_signal": signal, "step_timed_out": .bool(exit == nil)])
    }

    /// Builds the attempt with the role's agent (``BuilderAgentStep``); hands the envelope back
    /// while every agent the role may use is rate-limited.
    private func buildWithAgent(
        _ request: BuildRequest, in tree: BuildTree, git: Git, folder: String, log: String, claim: Claim,
        context: RoleContext
    ) async throws -> Disposition {
        let outcome: BuilderAgentStep.Outcome
        do {
            outcome = try await BuilderAgentStep(
                request: request, claim: claim, context: context, tree: tree.path, folder: folder, log: log
            ).run()
        } catch let error as RoleError where error.code == .invalidRequest || error.code == .notFound {
            // A prompt template that does not render, or an agent that cannot be made.
            return try await failedSetup(
                request, error.message, tree: tree, git: git, log: log, claim: claim, context: context)
        }
        let call = outcome.call
        if let until = call.limitedUntil {
            // The wait may be long: the tree goes now.
            try await finish(tree, git: git, keep: false)
            return .defer(
                until: until,
                reason: "every agent of the builder is rate-limited: " + call.limits.joined(separator: "; "))
        }
        let result = call.result
        var fields: [String: JSONValue] = [
            "step_exit": result.outcome == .ok ? .number(0) : .null, "step_signal": .null,
            "step_timed_out": .bool(result.outcome == .timeout), "usage": .array([call.usageRecord]),
            "step_report": outcome.stepReport.map(JSONValue.string) ?? .null,
            "agent": [
                "name": call.profile.map { .string($0.agent) } ?? .null,
                "model": call.profile?.model.map(JSONValue.string) ?? .null,
                "session": result.session.map(JSONValue.string) ?? .null,
                "outcome": .string(result.outcome.name), "message": .string(result.outcome.text),
            ],
        ]
        if result.outcome != .ok { fields["agent_outcome"] = .string(result.outcome.name) }
        return try await commit(request, tree: tree, git: git, log: log, claim: claim, context: context, step: fields)
    }

    /// An attempt that could not start (no way to build the task, a prompt template that does not
    /// render, an agent that cannot be made): reported as `built` with no change and
    /// `agent_outcome` `setup`, so the verifier rejects it with the reason and the task fails in
    /// the open rather than waiting on a dead letter.
    private func failedSetup(
        _ request: BuildRequest, _ message: String, tree: BuildTree, git: Git, log: String, claim: Claim,
        context: RoleContext
    ) async throws -> Disposition {
        appendLine(log, "# \(Timestamp.now()) the attempt could not start: \(message)")
        return try await commit(
            request, tree: tree, git: git, log: log, claim: claim, context: context,
            step: [
                "step_exit": .null, "step_signal": .null, "step_timed_out": false, "agent_outcome": "setup",
                "agent": ["outcome": "setup", "message": .string(message)],
            ])
    }

    /// Commits every change of the work tree with the attempt's trailers, ends the build's use of
    /// the work tree, and acks with `built` carrying the commit, the diff and the step's `fields`.
    private func commit(
        _ request: BuildRequest, tree: BuildTree, git: Git, log: String, claim: Claim, context: RoleContext,
        step fields: [String: JSONValue]
    ) async throws -> Disposition {
        // The step is over: the next build may start (in this builder's other tree) while this
        // one is committed and reported.
        BusWorker.allowNextClaim()
        var trailers = [
            ("Planbus-Run", request.run), ("Planbus-Task", request.task), ("Planbus-Attempt", "\(request.attempt)"),
        ]
        if request.candidate > 1 { trailers.append(("Planbus-Candidate", "\(request.candidate)")) }
        // The work tree's branch was reset to the base, so the commit's parent is the base.
        let made = try await git.at(tree.path).commitAllWithChange(
            message: "\(request.task): \(request.title)", trailers: trailers)
        let commit = made?.commit
        let diff = made?.change
        try await finish(tree, git: git)

        var body: [String: JSONValue] = [
            "repository": .string(request.repository), "base": .string(request.base),
            "attempt": .number(Double(request.attempt)), "candidate": .number(Double(request.candidate)),
            "title": .string(request.title), "branch": .string(request.branch),
            "commit": commit.map(JSONValue.string) ?? .null, "log": .string(log), "diff": diff?.json ?? .null,
            "summary": .string(
                commit == nil
                    ? "attempt \(request.attempt) of \(request.task): no change"
                    : "attempt \(request.attempt) of \(request.task): \(CheckText.count(diff?.files.count ?? 0, "file")), +\(diff?.insertions ?? 0) -\(diff?.deletions ?? 0)"
            ),
        ]
        body.merge(fields) { _, new in new }
        let built = Envelope(
            run: request.run, task: request.task, kind: "built", from: context.worker, to: "verifier",
            causation: claim.envelope.id, attempt: request.attempt, body: body)
        return .ack([built])
    }

    /// Runs the step in its own process group, output appended to `log`; SIGKILLs the group at the
    /// time limit or when the handler is cancelled.
    /// - Returns: how it ended, or `nil` when it timed out or was cancelled.
    ///
    /// The step writes to an unnamed file outside the bus; its lines reach `log` redacted
    /// (``TranscriptPump``), so no credential it prints is written to the bus.
    private func runStep(
        _ step: String, in directory: String, environment: [String: String], log: String, timeout: Duration,
        redactor: Redactor
    ) async throws -> ChildProcess.Exit? {
        let output = try TranscriptPump.outputFile()
        let child = try ChildProcess.spawn(
            ["/bin/sh", "-c", step], environment: environment, directory: directory, stdout: output.output,
            stderr: output.output, diesWithParent: true, killsGroupOnExit: true)
        let pump = TranscriptPump(from: output, to: log, redactor: redactor)
        return try await pump.whilePumping { () async throws(RoleError) -> ChildProcess.Exit? in
            await child.wait(timeout: timeout).exit
        }
    }

    private func appendLine(_ path: String, _ line: String) {
        TranscriptPump.append(line + "\n", to: path)
    }
}
