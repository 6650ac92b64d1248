import Bus
import Foundation
import Processes

/// The verifier: judges each built attempt on its own evidence, and integrates what it approves.
///
/// For a `built` envelope it trusts nothing the builder said but the commit id:
/// 1. it reads the task from the run's goal (the plan the planner was given, from
///    `q/planner/done/`), not from the builder;
/// 2. checks the commit out in its own work tree, owned by its claim
///    (`runs/<run>/verify/<task>.<attempt>.e<epoch>`), and diffs it against the base itself;
/// 3. rejects a failed step or an empty change, then runs the checks: every gate (fail closed,
///    logs under `runs/<run>/<task>/<attempt>/gates/`), scope, budget and secrets;
/// 4. on approval, merges the commit into the run's integration branch: the merge is made in a
///    work tree of its own and the branch moved only if nobody moved it meanwhile (a
///    compare-and-swap of the ref, retried on the new head); a conflict is a rejection;
/// 5. answers the planner with a `verdict`: approved or not, the findings, the feedback for the
///    next attempt, the gates' evidence, and the integration commit.
public struct VerifierRole: Role {
    public init() {}

    public var kinds: Set<String> { [RunMessages.built] }

    public func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let built = claim.envelope
        guard let taskID = built.task, let attempt = built.body["attempt"]?.intValue else {
            return .dead("built envelope \(built.id) lacks a task or an attempt")
        }
        let layout = context.bus.layout
        guard let goal = RunMessages.goal(of: built.run, layout: layout) else {
            return .dead("run \(built.run) has no goal in the planner's done queue: nothing to verify against")
        }
        let plan: Plan
        do {
            guard let text = goal.body["plan_text"]?.stringValue, let file = goal.body["plan_file"]?.stringValue else {
                return .dead("the goal of run \(built.run) carries no plan")
            }
            plan = try PlanLoader.parse(text, file: file)
        } catch {
            return .dead("the plan of run \(built.run) no longer loads: \(error)")
        }
        guard let task = plan.task(taskID) else { return .dead("run \(built.run) has no task \(taskID)") }
        guard let base = built.body["base"]?.stringValue else { return .dead("built envelope \(built.id) has no base") }
        let folder = layout.run(built.run) + "/\(taskID)/\(attempt)"
        let git = Git(directory: plan.repository)

        var findings: [Finding] = []
        var gates: [GateResult] = []
        var integrated: String?
        let stepExit = built.body["step_exit"]?.intValue
        if built.body["step_timed_out"] == .bool(true) {
            findings.append(Finding(.gate, "the build step timed out (log: \(built.body["log"]?.stringValue ?? "?"))"))
        } else if stepExit != 0 {
            let how = stepExit.map { "exited with \($0)" } ?? "was killed"
            findings.append(Finding(.gate, "the build step \(how) (log: \(built.body["log"]?.stringValue ?? "?"))"))
        }
        if let commit = built.body["commit"]?.stringValue {
            let trees = layout.run(built.run) + "/verify"
            let name = "\(taskID).\(attempt)"
            let tree = trees + "/\(name).e\(claim.epoch)"
            // Work trees of earlier epochs of this envelope belong to dead claims.
            for stale in (try? FileManager.default.contentsOfDirectory(atPath: trees)) ?? []
            where stale.hasPrefix(name + ".e") {
                try? await git.removeWorktree(at: trees + "/" + stale)
            }
            let work = try await git.addDetachedWorktree(at: tree, commit: commit)
            do {
                let diff = try await work.diff(from: base, to: commit)
                if findings.isEmpty {
                    let runner = GateRunner(directory: tree, git: work)
                    gates = try await runner.run(plan.effectiveGates(for: task), logFolder: folder + "/gates")
                }
                findings += ScopeCheck(scope: task.scope).findings(for: diff)
                findings += BudgetCheck(budget: plan.effectiveBudget(for: task)).findings(for: diff)
                findings += try await SecretScan().findings(in: work, from: base, to: commit)
                context.heartbeat.progressed()
                if Verification(gates: gates, findings: findings).approved {
                    switch try await Self.integrate(
                        commit, task: task, attempt: attempt, run: built.run, git: git, layout: layout)
                    {
                    case .merged(let merge): integrated = merge
                    case .conflict(let paths, let output):
                        findings.append(
                            Finding(
                                .gate,
                                "merging into \(RunMessages.integrationBranch(built.run)) conflicts in "
                                    + "\(paths.joined(separator: ", ")): rebase the change on the current integration "
                                    + "branch\n\(output)"))
                    }
                }
            } catch {
                try? await git.removeWorktree(at: tree)
                throw error
            }
            try await git.removeWorktree(at: tree)
        } else if findings.isEmpty {
            findings.append(Finding(.scope, "the attempt changed nothing"))
        }

        let verification = Verification(gates: gates, findings: findings)
        var body = verification.json.objectValue ?? [:]
        body["attempt"] = .number(Double(attempt))
        body["candidate"] = built.body["candidate"] ?? 1
        body["commit"] = built.body["commit"] ?? .null
        body["integrated"] = integrated.map(JSONValue.string) ?? .null
        body["evidence"] = .string(folder)
        body["summary"] = .string(
            integrated != nil
                ? "attempt \(attempt) of \(taskID) approved and integrated"
                : "attempt \(attempt) of \(taskID) rejected: \(findings.first?.line ?? "not approved")")
        let approved = verification.approved && integrated != nil
        body["approved"] = .bool(approved)
        body["verdict"] = .string(approved ? "approved" : "rejected")
        let verdict = Envelope(
            id: RunMessages.derivedID(from: built.id, "verdict-\(taskID)-\(attempt)"), run: built.run, task: taskID,
            kind: RunMessages.verdict, from: context.worker, to: "planner", causation: built.id, attempt: attempt,
            body: body)
        return .ack([verdict])
    }

    /// Merges `commit` into the run's integration branch, moving the branch by compare-and-swap
    /// so that two verifiers integrating at once never lose a merge.
    static func integrate(
        _ commit: String, task: PlanTask, attempt: Int, run: String, git: Git, layout: BusLayout
    ) async throws(RoleError) -> MergeOutcome {
        let branch = RunMessages.integrationBranch(run)
        for round in 1...10 {
            let head = try await git.commit(of: branch)
            let tree = layout.run(run) + "/integrate/\(task.id).\(attempt).\(round).\(FileOps.randomHex(6))"
            let work = try await git.addDetachedWorktree(at: tree, commit: head)
            let outcome: MergeOutcome
            do {
                outcome = try await work.merge(
                    commit,
                    message: "Integrate \(task.id) attempt \(attempt): \(task.title)\n\nPlanbus-Run: \(run)\n"
                        + "Planbus-Task: \(task.id)\nPlanbus-Attempt: \(attempt)")
            } catch {
                try? await git.removeWorktree(at: tree)
                throw error
            }
            try await git.removeWorktree(at: tree)
            guard case .merged(let merge) = outcome else { return outcome }
            let moved = try await git.attempt(["update-ref", "refs/heads/" + branch, merge, head])
            if moved.succeeded { return .merged(merge) }
        }
        throw RoleError(.git, "the integration branch \(branch) kept moving; could not integrate \(commit)")
    }
}
