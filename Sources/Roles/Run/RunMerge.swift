import Bus
import Foundation
import Processes

/// `planbus merge RUN`: the only way a run changes the user's base branch. It runs the plan's
/// smoke gates on the integration branch, in a work tree of its own, and fast-forwards the base
/// branch to it only if every one passes.
public struct RunMerge: Sendable {
    /// What a merge came to.
    public struct Outcome: Sendable {
        /// The commit the base branch now points to, when it moved.
        public var merged: String?
        /// The smoke gates that ran.
        public var gates: [GateResult]
        /// Why the base branch did not move, if it did not.
        public var refusal: String?

        public var json: JSONValue {
            [
                "merged": merged.map(JSONValue.string) ?? .null, "refusal": refusal.map(JSONValue.string) ?? .null,
                "gates": .array(gates.map(\.json)),
            ]
        }
    }

    public let plan: Plan
    public let run: String
    public let layout: BusLayout

    public init(plan: Plan, run: String, layout: BusLayout) {
        self.plan = plan
        self.run = run
        self.layout = layout
    }

    public func merge() async throws(RoleError) -> Outcome {
        let git = Git(directory: plan.repository)
        let branch = RunMessages.integrationBranch(run)
        guard await git.branchExists(branch) else {
            throw RoleError(.notFound, "run \(run) has no integration branch \(branch) in \(plan.repository)")
        }
        let head = try await git.commit(of: branch)
        let tree = layout.run(run) + "/merge/" + FileOps.randomHex(6)
        let work = try await git.addDetachedWorktree(at: tree, commit: head)
        let gates: [GateResult]
        do {
            gates = try await GateRunner(directory: tree, git: work).run(
                plan.smoke, logFolder: layout.run(run) + "/smoke-\(Timestamp.now().milliseconds)")
        } catch {
            try? await git.removeWorktree(at: tree)
            throw error
        }
        try await git.removeWorktree(at: tree)
        let failed = gates.filter { !$0.passed }
        if !failed.isEmpty {
            let names = failed.map(\.name).joined(separator: ", ")
            return Outcome(
                merged: nil, gates: gates, refusal: "smoke gates failed: \(names); \(plan.baseBranch) was not moved")
        }
        let checkedOut = try? await git.run(["symbolic-ref", "-q", "HEAD"])
        if checkedOut == "refs/heads/" + plan.baseBranch {
            // Checked out: move it with the work tree, which must not lose local changes. The
            // files it writes are the user's, made with the user's umask, not the bus's.
            let run = try await BusPermissions.withUserUmask { () async throws(RoleError) -> ProgramRun in
                try await git.attempt(["merge", "--ff-only", head])
            }
            guard run.succeeded else {
                return Outcome(
                    merged: nil, gates: gates,
                    refusal: "\(plan.baseBranch) cannot be fast-forwarded to \(branch): "
                        + (run.stderr.isEmpty ? run.stdout : run.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
                )
            }
        } else {
            do {
                try await git.fastForward(plan.baseBranch, to: head)
            } catch {
                return Outcome(merged: nil, gates: gates, refusal: error.message)
            }
        }
        return Outcome(merged: head, gates: gates, refusal: nil)
    }
}
