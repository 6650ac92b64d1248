import Bus

/// Turns the planner's ``RunAction``s into envelopes (docs/RUN.md gives each kind's body).
///
/// Every envelope's id derives from the input's (``RunMessages/derivedID(from:_:)``), so the same
/// input handled twice sends the same ids; `run_finished`'s derives from the goal's, so the docs
/// role hears it once however many inputs find the run finished.
struct RunDispatch {
    let state: RunState
    let input: Envelope
    let goalID: String
    let worker: WorkerID
    /// True when the planner's model writes the tech spec (the `spec` envelope says so).
    var modelSpec = false

    var plan: Plan { state.plan }
    var run: String { state.run }

    func envelopes(for actions: [RunAction]) async throws(RoleError) -> [Envelope] {
        guard !actions.isEmpty else { return [] }
        let git = Git(directory: plan.repository)
        let branch = RunMessages.integrationBranch(run)
        var head: String?
        func integrationHead() async throws(RoleError) -> String {
            if let head { return head }
            let commit = try await git.commit(of: branch)
            head = commit
            return commit
        }
        var out: [Envelope] = []
        for action in actions {
            switch action {
            case .stage(let stage):
                let kind = stage == .discovery ? RunMessages.discover : RunMessages.spec
                var body: [String: JSONValue] = [
                    "summary": .string("write the \(stage == .discovery ? "discovery notes" : "tech spec")")
                ]
                if stage == .spec, modelSpec { body["writer"] = "model" }
                out.append(envelope(kind, to: "planner", suffix: kind, task: nil, body: body))
            case .check(let stage):
                let commit =
                    stage == .preflight ? try await git.commit(of: plan.baseBranch) : try await integrationHead()
                out.append(
                    envelope(
                        RunMessages.check, to: "verifier", suffix: "check-\(stage.rawValue)", task: nil,
                        body: [
                            "stage": .string(stage.rawValue), "repository": .string(plan.repository),
                            "commit": .string(commit),
                            "summary": .string("run the \(stage.rawValue) gates on \(commit.prefix(12))"),
                        ]))
            case .build(let build):
                out.append(try await buildEnvelope(build, base: try await integrationHead()))
            case .judge(let task, let attempt, let candidates):
                out.append(
                    envelope(
                        RunMessages.judge, to: "judge", suffix: "judge-\(task)-\(attempt)", task: task,
                        attempt: attempt,
                        body: [
                            "repository": .string(plan.repository), "title": .string(plan.task(task)?.title ?? task),
                            "candidates": .array(candidates.map(\.body)),
                            "summary": .string("pick one of \(candidates.count) candidates of \(task)"),
                        ]))
            case .approve(let task, let attempt, let verdict):
                var body = verdict.body.objectValue ?? [:]
                body["candidate"] = .number(Double(verdict.candidate))
                body["title"] = .string(plan.task(task)?.title ?? task)
                body["branch"] = .string(
                    BuildRequest.branch(run: run, task: task, attempt: attempt, candidate: verdict.candidate))
                body["reply_to"] = "planner"
                body["summary"] = .string(
                    "approve \(task) attempt \(attempt) (\(verdict.commit?.prefix(12) ?? "?"))? "
                        + "planbus approve \(run) \(task), or planbus reject \(run) \(task) --reason TEXT")
                out.append(
                    envelope(
                        RunMessages.approval, to: RunMessages.human, suffix: "approval-\(task)-\(attempt)", task: task,
                        attempt: attempt, body: body))
            case .integrate(let task, let attempt, let verdict):
                out.append(
                    envelope(
                        RunMessages.integrate, to: "verifier", suffix: "integrate-\(task)-\(attempt)", task: task,
                        attempt: attempt,
                        body: [
                            "commit": verdict.commit.map(JSONValue.string) ?? .null,
                            "candidate": .number(Double(verdict.candidate)), "diff": verdict.body["diff"] ?? .null,
                            "gates": verdict.body["gates"] ?? .array([]), "evidence": verdict.body["evidence"] ?? .null,
                            "summary": .string(
                                "integrate candidate \(verdict.candidate) of \(task) attempt \(attempt)"),
                        ]))
            case .ask(let task, let attempt, let candidate, let id, let text):
                out.append(
                    Envelope(
                        id: id, run: run, task: task, kind: RunMessages.question, from: worker, to: RunMessages.human,
                        causation: input.id, attempt: attempt,
                        body: [
                            "question": .string(text), "candidate": .number(Double(candidate)),
                            "reply_to": "planner",
                            "summary": .string(
                                "task \(task) asks: " + (text.split(separator: "\n").first.map(String.init) ?? "")),
                        ]))
            case .changelog(let task, let commit, let attempts):
                out.append(
                    envelope(
                        RunMessages.changelog, to: "docs", suffix: "changelog-\(task)", task: task, attempt: attempts,
                        body: [
                            "repository": .string(plan.repository), "commit": .string(commit),
                            "title": .string(plan.task(task)?.title ?? task), "plan": .string(plan.name),
                            "summary": .string("write the changelog entry of \(task)"),
                        ]))
            case .finish:
                out.append(
                    Envelope(
                        id: RunMessages.derivedID(from: goalID, "finished"), run: run, kind: RunMessages.runFinished,
                        from: worker, to: "docs", causation: input.id,
                        body: [
                            "halted": state.halted.map(JSONValue.string) ?? .null,
                            "summary": .string(state.halted.map { "run halted: \($0)" } ?? "run finished"),
                        ]))
            }
        }
        return out
    }

    private func buildEnvelope(_ build: RunAction.Build, base: String) async throws(RoleError) -> Envelope {
        guard let task = plan.task(build.task) else {
            throw RoleError(.invalidPlan, "run \(run) has no task \(build.task)")
        }
        var body: [String: JSONValue] = [
            "repository": .string(plan.repository), "base": .string(base),
            "attempt": .number(Double(build.attempt)), "candidate": .number(Double(build.candidate)),
            "title": .string(task.title), "prompt": .string(task.prompt),
            "scope": .array(task.scope.map(JSONValue.string)),
            "summary": .string(
                "attempt \(build.attempt)" + (task.candidates > 1 ? ", candidate \(build.candidate)" : "")
                    + (build.answers.isEmpty ? "" : ", with \(build.answers.count) answer(s)") + ": \(task.title)"),
        ]
        if let step = task.run { body["step"] = .string(step) }
        if let feedback = build.feedback { body["feedback"] = .string(feedback) }
        if !build.answers.isEmpty {
            body["answers"] = .array(
                build.answers.map { ["question": .string($0.question), "answer": .string($0.answer)] })
        }
        let suffix = "build-\(task.id)-\(build.attempt)" + (build.candidate > 1 ? "-c\(build.candidate)" : "")
        return envelope(
            RunMessages.build, to: "builder", suffix: suffix, task: task.id, attempt: build.attempt, body: body)
    }

    private func envelope(
        _ kind: String, to: String, suffix: String, task: String?, attempt: Int = 1, body: [String: JSONValue]
    ) -> Envelope {
        Envelope(
            id: RunMessages.derivedID(from: input.id, suffix), run: run, task: task, kind: kind, from: worker, to: to,
            causation: input.id, attempt: attempt, body: body)
    }
}
