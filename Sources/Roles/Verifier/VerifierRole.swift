import Bus
import Foundation
import Processes

/// The verifier: judges each built attempt on its own evidence, integrates what is approved, and
/// runs a run's preflight and smoke gates.
///
/// For a `built` envelope it trusts nothing the builder said but the commit id:
/// 1. it reads the task from the run's goal (the plan the planner was given, from
///    `q/planner/done/`), not from the builder;
/// 2. checks the commit out in its own work tree, owned by its claim
///    (`runs/<run>/verify/<task>.<attempt>[.c<k>].e<epoch>`), and diffs it against the base itself;
/// 3. rejects a failed step or an empty change, then runs the checks: every gate (fail closed,
///    logs under the attempt's `gates/` folder), scope, budget and secrets;
/// 4. lets the worker claim its next envelope (`BusWorker.allowNextClaim()`: the role runs with
///    ``overlap``), and, on approval of a task that needs neither the judge (`candidates` above 1)
///    nor a person (`needs_approval`), merges the commit into the run's integration branch
///    (``integrate(_:task:attempt:run:git:layout:)``); otherwise the verdict says what it is
///    `pending` on, and the planner later sends `integrate` for the chosen commit;
/// 5. answers the planner with a `verdict`: approved or not, the findings, the feedback for the
///    next attempt, the gates' evidence, the diff, and the integration commit.
///
/// For `check` it runs the preflight or smoke gates on the given commit and answers `checked`.
public struct VerifierRole: Role {
    public init() {}

    public var kinds: Set<String> {
        [RunMessages.built, RunMessages.integrate, RunMessages.check, RunMessages.judgment]
    }

    /// A verification's integration overlaps the next envelope's verification.
    public var overlap: Bool { true }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let envelope = claim.envelope
        let plan: Plan
        do {
            plan = try RunMessages.plan(of: envelope.run, layout: context.bus.layout)
        } catch {
            return .dead("cannot verify for run \(envelope.run): \(error.message)")
        }
        switch envelope.kind {
        case RunMessages.integrate: return try await integrateApproved(claim, plan: plan, context: context)
        case RunMessages.check: return try await runCheck(claim, plan: plan, context: context)
        case RunMessages.judgment: return try await settleReview(claim, plan: plan, context: context)
        default: return try await verify(claim, plan: plan, context: context)
        }
    }

    private func verify(_ claim: Claim, plan: Plan, context: RoleContext) async throws -> Disposition {
        let built = claim.envelope
        guard let taskID = built.task, let attempt = built.body["attempt"]?.intValue else {
            return .dead("built envelope \(built.id) lacks a task or an attempt")
        }
        let layout = context.bus.layout
        guard let task = plan.task(taskID) else { return .dead("run \(built.run) has no task \(taskID)") }
        guard let base = built.body["base"]?.stringValue else { return .dead("built envelope \(built.id) has no base") }
        let candidate = built.body["candidate"]?.intValue ?? 1
        let folder = layout.run(built.run) + "/\(taskID)/\(attempt)" + (candidate > 1 ? "/c\(candidate)" : "")
        let git = Git(directory: plan.repository)
        let pending: String? = task.candidates > 1 ? "judge" : task.needsApproval ? "approval" : nil
        let reviewing = context.agents.isEnabled

        var findings: [Finding] = []
        var gates: [GateResult] = []
        var integrated: String?
        var diff: DiffSummary?
        var reviewed: (approved: Bool, reviews: [Review], usage: [JSONValue])?
        let stepExit = built.body["step_exit"]?.intValue
        if let failed = Self.agentFailure(of: built) {
            // A failed agent call is the step's failure: its outcome says more than the exit.
            findings.append(failed)
        } else if built.body["step_timed_out"] == .bool(true) {
            findings.append(Finding(.gate, "the build step timed out (log: \(built.body["log"]?.stringValue ?? "?"))"))
        } else if stepExit != 0 {
            let how = stepExit.map { "exited with \($0)" } ?? "was killed"
            findings.append(Finding(.gate, "the build step \(how) (log: \(built.body["log"]?.stringValue ?? "?"))"))
        }
        if let commit = built.body["commit"]?.stringValue {
            let trees = layout.run(built.run) + "/verify"
            let name = "\(taskID).\(attempt)" + (candidate > 1 ? ".c\(candidate)" : "")
            let tree = trees + "/\(name).e\(claim.epoch)"
            // Work trees of earlier epochs of this envelope belong to dead claims.
            for stale in (try? FileManager.default.contentsOfDirectory(atPath: trees)) ?? []
            where stale.hasPrefix(name + ".e") {
                try? await git.removeWorktree(at: trees + "/" + stale)
            }
            // Gates and reviews run in a checkout of the commit; without them, the checks read git only.
            let toRun = findings.isEmpty ? plan.effectiveGates(for: task) : []
            let checkout = !toRun.isEmpty || (reviewing && findings.isEmpty)
            let work = checkout ? try await git.addDetachedWorktree(at: tree, commit: commit) : git
            do {
                // The scan reads its own diff: it runs while the numstat diff and the gates do.
                async let secrets = SecretScan().findings(in: work, from: base, to: commit)
                let change = try await work.diff(from: base, to: commit)
                diff = change
                if !toRun.isEmpty {
                    gates = try await GateRunner(directory: tree, git: work, keys: context.agents.keyVariables).run(
                        toRun, logFolder: folder + "/gates")
                }
                findings += ScopeCheck(scope: task.scope).findings(for: change)
                findings += BudgetCheck(budget: plan.effectiveBudget(for: task)).findings(for: change)
                findings += try await secrets
                context.heartbeat.progressed()
                if reviewing, Verification(gates: gates, findings: findings).approved {
                    let prompt = try await Self.reviewPrompt(
                        task: task, run: built.run, attempt: attempt, candidate: candidate, plan: plan, git: work,
                        base: base, commit: commit, change: change, gates: gates,
                        intent: PromptLibrary.intent(run: built.run, layout: context.bus.layout))
                    let panel = ReviewPanel(
                        reviewer: ModelReviewer(caller: context.agents, timeout: Self.reviewTimeout(context)),
                        second: context.settings.agents.reviewer)
                    switch try await panel.review(prompt: prompt.text, directory: tree, folder: folder) {
                    case .limited(let until, let reason):
                        try? await git.removeWorktree(at: tree)
                        return .defer(until: until, reason: reason)
                    case .split(let reviews, let usage):
                        try await git.removeWorktree(at: tree)
                        let draft = Self.draft(
                            built, attempt: attempt, candidate: candidate, diff: change, folder: folder,
                            verification: Verification(gates: gates, findings: []))
                        return .ack([
                            Self.reviewJudge(
                                built, task: task, attempt: attempt, candidate: candidate, plan: plan,
                                prompt: prompt, reviews: reviews, usage: usage, draft: draft, context: context)
                        ])
                    case .decided(let approved, let reviews, let usage):
                        reviewed = (approved, reviews, usage)
                        if !approved { findings += ReviewPanel.findings(reviews) }
                    }
                    context.heartbeat.progressed()
                }
                // The checks are done: the next envelope may be verified while this one is integrated.
                BusWorker.allowNextClaim()
                if pending == nil, Verification(gates: gates, findings: findings).approved {
                    switch try await Self.integrate(
                        commit, task: task, attempt: attempt, run: built.run, git: git, again: claim.epoch > 1)
                    {
                    case .merged(let merge): integrated = merge
                    case .conflict(let paths, let output): findings.append(Self.conflict(paths, output, run: built.run))
                    }
                }
            } catch {
                if checkout { try? await git.removeWorktree(at: tree) }
                throw error
            }
            if checkout { try await git.removeWorktree(at: tree) }
        } else if findings.isEmpty {
            findings.append(Finding(.scope, "the attempt changed nothing"))
        }

        let verification = Verification(gates: gates, findings: findings)
        var body = Self.draft(
            built, attempt: attempt, candidate: candidate, diff: diff, folder: folder, verification: verification)
        if let reviewed {
            body["usage"] = .array(reviewed.usage)
            body["review"] = ReviewPanel.json(approved: reviewed.approved, reviews: reviewed.reviews)
            body["followups"] = ReviewPanel.followups(reviewed.reviews)
        }
        Self.finish(
            &body, approved: verification.approved, integrated: integrated, pending: pending,
            who: "attempt \(attempt) of \(taskID)" + (candidate > 1 ? " (candidate \(candidate))" : ""),
            first: verification.findings.first)
        let suffix = "verdict-\(taskID)-\(attempt)" + (candidate > 1 ? "-c\(candidate)" : "")
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: built.id, suffix), run: built.run, task: taskID,
                kind: RunMessages.verdict, from: context.worker, to: "planner", causation: built.id, attempt: attempt,
                body: body)
        ])
    }

    /// A verdict's body before it is decided: the verification's `verdict`, `approved`,
    /// `findings`, `gates` and `feedback`, with `attempt`, `candidate`, `commit`, `branch`,
    /// `diff` and `evidence`.
    static func draft(
        _ built: Envelope, attempt: Int, candidate: Int, diff: DiffSummary?, folder: String,
        verification: Verification
    ) -> [String: JSONValue] {
        var body = verification.json.objectValue ?? [:]
        body["attempt"] = .number(Double(attempt))
        body["candidate"] = .number(Double(candidate))
        body["commit"] = built.body["commit"] ?? .null
        body["branch"] = built.body["branch"] ?? .null
        body["diff"] = diff?.json ?? .null
        body["evidence"] = .string(folder)
        // The build's agent calls, for the planner's cost limits (counted by planbus usage in
        // `built`, where they were reported).
        if let usage = built.body["usage"], usage.arrayValue?.isEmpty == false { body["relayed_usage"] = usage }
        return body
    }

    /// Decides a drafted verdict: `approved` (only when integrated or pending), `verdict`,
    /// `pending`, `integrated` and `summary`.
    static func finish(
        _ body: inout [String: JSONValue], approved verified: Bool, integrated: String?, pending: String?,
        who: String, first: Finding?
    ) {
        body["integrated"] = integrated.map(JSONValue.string) ?? .null
        let approved = verified && (integrated != nil || pending != nil)
        body["approved"] = .bool(approved)
        body["verdict"] = .string(approved ? "approved" : "rejected")
        body["pending"] = approved ? pending.map(JSONValue.string) ?? .null : .null
        body["summary"] = .string(
            integrated != nil
                ? "\(who) approved and integrated"
                : approved
                    ? "\(who) approved; waiting for the \(pending == "judge" ? "judge" : "approval of a person")"
                    : "\(who) rejected: \(first?.line ?? "not approved")")
    }

    /// `integrate`: merges a judged or approved commit, and answers with its verdict.
    private func integrateApproved(_ claim: Claim, plan: Plan, context: RoleContext) async throws -> Disposition {
        let request = claim.envelope
        guard let taskID = request.task, let task = plan.task(taskID),
            let commit = request.body["commit"]?.stringValue
        else { return .dead("integrate envelope \(request.id) lacks a task of the run or a commit") }
        let attempt = request.body["attempt"]?.intValue ?? request.attempt
        let candidate = request.body["candidate"]?.intValue ?? 1
        let git = Git(directory: plan.repository)
        var body: [String: JSONValue] = [
            "attempt": .number(Double(attempt)), "candidate": .number(Double(candidate)), "commit": .string(commit),
            "diff": request.body["diff"] ?? .null, "gates": request.body["gates"] ?? .array([]),
            "evidence": request.body["evidence"] ?? .null, "findings": .array([]),
        ]
        switch try await Self.integrate(
            commit, task: task, attempt: attempt, run: request.run, git: git, again: claim.epoch > 1)
        {
        case .merged(let merge):
            body["approved"] = true
            body["verdict"] = "approved"
            body["integrated"] = .string(merge)
            body["feedback"] = "Approved and integrated.\n"
            body["summary"] = .string("candidate \(candidate) of \(taskID) attempt \(attempt) integrated")
        case .conflict(let paths, let output):
            let finding = Self.conflict(paths, output, run: request.run)
            body["approved"] = false
            body["verdict"] = "rejected"
            body["integrated"] = .null
            body["findings"] = .array([finding.json])
            body["feedback"] = .string(Verification(gates: [], findings: [finding]).feedback)
            body["summary"] = .string("candidate \(candidate) of \(taskID) attempt \(attempt) conflicts")
        }
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: request.id, "integrated-\(taskID)-\(attempt)"), run: request.run,
                task: taskID, kind: RunMessages.verdict, from: context.worker, to: "planner", causation: request.id,
                attempt: attempt, body: body)
        ])
    }

    /// `check`: runs the preflight or smoke gates on a commit, in a work tree of its own.
    private func runCheck(_ claim: Claim, plan: Plan, context: RoleContext) async throws -> Disposition {
        let request = claim.envelope
        guard let stage = request.body["stage"]?.stringValue, stage == "preflight" || stage == "smoke",
            let commit = request.body["commit"]?.stringValue
        else { return .dead("check envelope \(request.id) needs a stage (preflight or smoke) and a commit") }
        let layout = context.bus.layout
        let git = Git(directory: plan.repository)
        let tree = layout.run(request.run) + "/verify/\(stage).e\(claim.epoch)"
        try? await git.removeWorktree(at: tree)
        let work = try await git.addDetachedWorktree(at: tree, commit: commit)
        let gates: [GateResult]
        do {
            gates = try await GateRunner(directory: tree, git: work, keys: context.agents.keyVariables).run(
                stage == "preflight" ? plan.preflight : plan.smoke, logFolder: layout.run(request.run) + "/\(stage)")
        } catch {
            try? await git.removeWorktree(at: tree)
            throw error
        }
        try await git.removeWorktree(at: tree)
        let verification = Verification(gates: gates, findings: [])
        let failed = gates.filter { !$0.passed }.map(\.name)
        var body = verification.json.objectValue ?? [:]
        body["stage"] = .string(stage)
        body["commit"] = .string(commit)
        body["passed"] = .bool(verification.approved)
        body["summary"] = .string(
            failed.isEmpty
                ? "\(CheckText.count(gates.count, "\(stage) gate")) passed on \(commit.prefix(12))"
                : "\(stage) gate\(failed.count == 1 ? "" : "s") \(failed.joined(separator: ", ")) failed on "
                    + "\(commit.prefix(12)) (logs: \(layout.run(request.run))/\(stage)/)")
        return .ack([
            Envelope(
                id: RunMessages.derivedID(from: request.id, "checked-\(stage)"), run: request.run,
                kind: RunMessages.checked, from: context.worker, to: "planner", causation: request.id, body: body)
        ])
    }

    /// Merges `commit` into the run's integration branch (``IntegrationBranch/merge(_:message:)``),
    /// with the run, task and attempt as trailers.
    /// `again` (the envelope was claimed before, at a lower epoch) looks for a merge of `commit`
    /// that an earlier holder made before it could ack, so a crash never merges twice.
    static func integrate(
        _ commit: String, task: PlanTask, attempt: Int, run: String, git: Git, again: Bool
    ) async throws(RoleError) -> MergeOutcome {
        try await IntegrationBranch(run: run, git: git).merge(
            commit,
            message: "Integrate \(task.id) attempt \(attempt): \(task.title)\n\nPlanbus-Run: \(run)\n"
                + "Planbus-Task: \(task.id)\nPlanbus-Attempt: \(attempt)", again: again)
    }

    static func conflict(_ paths: [String], _ output: String, run: String) -> Finding {
        Finding(
            .gate,
            "merging into \(RunMessages.integrationBranch(run)) conflicts in \(paths.joined(separator: ", ")): "
                + "rebase the change on the current integration branch\n\(output)")
    }
}
