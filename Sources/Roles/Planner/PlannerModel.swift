import Bus
import Foundation

/// The planner's own agent calls: the intent questions, the tech spec and the plan. Each call's
/// answer is checked, then sent back to the planner as a `draft` envelope (``Draft``) with the
/// call's usage, so that the run's fold reads it from the bus.
struct PlannerModel {
    /// What the model is told about the work.
    struct Subject {
        var text: String
        var repository: String
        var baseBranch: String
        var risk: PlanRisk?
        /// The free-text goal being planned, if it is one (its plan is checked against it).
        var goal: GoalDraft?
        /// The plan, when it was submitted (its spec is written after it).
        var plan: Plan?
    }

    /// What a call came to.
    enum Outcome {
        /// The `draft` envelope to send the planner.
        case drafted(Envelope)
        /// Every agent the planner may use is rate-limited until then.
        case deferred(until: Timestamp, reason: String)
    }

    let caller: AgentCaller
    let maxQuestions: Int
    let layout: BusLayout
    let run: String
    let worker: WorkerID
    /// The input being handled; the draft's id derives from it.
    let input: Envelope

    var folder: String { layout.run(run) }

    /// Asks the model for `purpose`, checks its answer, and makes the `draft` envelope.
    func draft(_ purpose: Draft.Purpose, attempt: Int, feedback: String?, subject: Subject) async throws -> Outcome {
        try FileManager.default.createDirectory(atPath: folder + "/planner", withIntermediateDirectories: true)
        let prompt = try await self.prompt(purpose, feedback: feedback, subject: subject)
        // The model may read the repository but never change the user's tree: it works in a
        // detached work tree of the base branch, removed after the call.
        let git = Git(directory: subject.repository)
        let tree = folder + "/planner/tree-\(purpose.rawValue)-\(attempt)"
        // A planner that died during this call left its tree: take it over.
        if FileManager.default.fileExists(atPath: tree) {
            try? await git.removeWorktree(at: tree)
            try? FileManager.default.removeItem(atPath: tree)
            _ = try? await git.run(["worktree", "prune"])
        }
        try await git.run(["worktree", "add", "--detach", "--force", tree, subject.baseBranch])
        let call: AgentCall
        do {
            call = try await caller.call(
                role: "planner", prompt: prompt, directory: tree,
                transcript: folder + "/planner/\(purpose.rawValue)-\(attempt).log", timeout: .seconds(900),
                wantsJSON: purpose == .questions)
        } catch {
            try? await git.removeWorktree(at: tree)
            throw error
        }
        try? await git.removeWorktree(at: tree)
        if let until = call.limitedUntil {
            return .deferred(
                until: until,
                reason: "every agent of the planner is rate-limited: " + call.limits.joined(separator: "; "))
        }
        let text = String(call.result.text.prefix(200_000))
        var draft = Draft(purpose: purpose, attempt: attempt, text: text, error: nil)
        if call.result.outcome != .ok {
            draft.error = "the call failed: \(call.result.outcome.text)"
        } else {
            switch purpose {
            case .questions:
                do {
                    draft.questions = try DraftCheck.questions(in: call.result.json, text: text, limit: maxQuestions)
                } catch {
                    draft.error = error.message
                }
            case .spec:
                let missing = DraftCheck.missingSections(in: text)
                if !missing.isEmpty {
                    draft.error =
                        "the spec lacks the section\(missing.count == 1 ? "" : "s") "
                        + missing.joined(separator: ", ") + " (each a \"## \" heading)"
                }
            case .plan:
                draft.text = DraftCheck.planBlock(in: text)
                let file = folder + "/plan.yaml"
                try draft.text.write(toFile: file, atomically: true, encoding: .utf8)
                if let goal = subject.goal {
                    do {
                        _ = try DraftCheck.plan(at: file, goal: goal, agents: caller.settings)
                    } catch {
                        draft.error = error.message
                    }
                }
            }
        }
        let envelope = Envelope(
            id: RunMessages.derivedID(from: input.id, "draft-\(purpose.rawValue)-\(attempt)"), run: run,
            kind: GoalDraft.kind, from: worker, to: "planner", causation: input.id, attempt: attempt,
            body: draft.body(outcome: call.result.outcome.name, usage: call.usageRecord))
        return .drafted(envelope)
    }

    /// The `draft` of no questions, when none are to be asked (no call is made).
    func noQuestions(because reason: String) -> Envelope {
        var body = Draft(purpose: .questions, attempt: 1, text: "", error: nil).body(outcome: "skipped", usage: .null)
        body["usage"] = .array([])
        body["summary"] = .string("no intent questions: \(reason)")
        return Envelope(
            id: RunMessages.derivedID(from: input.id, "draft-questions-1"), run: run, kind: GoalDraft.kind,
            from: worker, to: "planner", causation: input.id, body: body)
    }

    /// The rendered template of `purpose`.
    func prompt(_ purpose: Draft.Purpose, feedback: String?, subject: Subject) async throws -> String {
        let library = try PromptLibrary(repository: subject.repository)
        var values = [
            "run": run, "goal": subject.text, "repository": subject.repository, "base": subject.baseBranch,
            "risk": subject.risk?.rawValue ?? "to be chosen", "intent": read("INTENT.md") ?? "No questions were asked.",
            "feedback": feedback.map { "Your previous answer was not usable:\n" + $0 }
                ?? "None: this is the first try.",
            "files": try await files(subject), "max_questions": String(min(maxQuestions, 4)),
        ]
        switch purpose {
        case .questions:
            values["readme"] = await readme(subject)
        case .spec:
            values["readme"] = await readme(subject)
            values["sections"] = DraftCheck.specSections.map { "## " + $0 }.joined(separator: "\n")
            values["plan"] = subject.plan.map { PlanRoute(plan: $0).text } ?? "Not yet: it is written after this spec."
        case .plan:
            values["spec"] = read("SPEC.md") ?? "None."
            values["risk_rule"] =
                subject.risk.map { "`risk: \($0.rawValue)` exactly." }
                ?? "`risk`: low for a small, well-understood change, medium or high otherwise."
            values["gates_rule"] =
                subject.goal?.allowModelGates == true
                ? "You may propose gates (`gates`, `preflight`, `smoke`, a task's `gates`): each a name and a command."
                : "No gates: leave out `gates`, `preflight`, `smoke` and every task's `gates`; people set them."
        }
        return try library.render("planner-\(purpose.rawValue)", values)
    }

    /// The text of a file of the run folder, if it is there.
    func read(_ name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: folder + "/" + name) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The tracked files of the base branch, at most 400.
    func files(_ subject: Subject) async throws -> String {
        let listing = try await Git(directory: subject.repository).run([
            "ls-tree", "-r", "--name-only", "--full-tree", subject.baseBranch,
        ])
        let paths = listing.split(separator: "\n")
        var text = paths.prefix(400).map { "- " + $0 }.joined(separator: "\n")
        if paths.count > 400 { text += "\n- … and \(paths.count - 400) more" }
        return paths.isEmpty ? "(none)" : text
    }

    /// The first 60 lines of the base branch's README, if it has one.
    func readme(_ subject: Subject) async -> String {
        let git = Git(directory: subject.repository)
        for name in ["README.md", "README", "README.txt", "readme.md"] {
            if let text = try? await git.run(["show", "\(subject.baseBranch):\(name)"]) {
                return text.split(separator: "\n", omittingEmptySubsequences: false).prefix(60).joined(separator: "\n")
            }
        }
        return "(no README)"
    }
}
