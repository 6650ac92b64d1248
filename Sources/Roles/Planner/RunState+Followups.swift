import Bus
import Foundation

/// Work a verifier or judge found while checking a task, to be done as a task of its own.
public struct Followup: Sendable, Equatable {
    public var title: String
    public var prompt: String
    /// Globs of the paths it may change; the origin task's when `nil`.
    public var scope: [String]?
    /// A shell step that builds it without an agent, when one is given.
    public var run: String?

    public init(title: String, prompt: String, scope: [String]? = nil, run: String? = nil) {
        self.title = title
        self.prompt = prompt
        self.scope = scope
        self.run = run
    }

    /// The `followups` of a verdict's or judgment's body: each `title`, `prompt`, optional `scope`
    /// and `run`; an entry without a title or a prompt is skipped, and a scope with an absolute or
    /// `..` glob is dropped for the origin's.
    public static func list(in body: [String: JSONValue]) -> [Followup] {
        (body["followups"]?.arrayValue ?? []).compactMap { item in
            guard let title = item["title"]?.stringValue?.split(separator: "\n").first.map(String.init),
                !title.allSatisfy(\.isWhitespace), let prompt = item["prompt"]?.stringValue,
                !prompt.allSatisfy(\.isWhitespace)
            else { return nil }
            var scope = item["scope"]?.arrayValue?.compactMap(\.stringValue).filter { !$0.isEmpty }
            if let globs = scope,
                globs.isEmpty || globs.contains(where: { $0.hasPrefix("/") || $0.split(separator: "/").contains("..") })
            {
                scope = nil
            }
            return Followup(title: title, prompt: prompt, scope: scope, run: item["run"]?.stringValue)
        }
    }
}

extension RunState {
    /// Adds the follow-ups a verdict or judgment carries as tasks of the run, when the input fits
    /// the run's state (a verdict or judgment on the attempt in progress): each gets the id
    /// `<task>-f<n>`, depends on its origin, and has the scope given or the origin's. While the
    /// run is halted or its `run_budget` leaves no room, or when the scope given escapes the run's
    /// ``scopeLimit``, a follow-up is recorded as dropped.
    public mutating func followUp(_ input: Envelope) {
        guard input.kind == RunMessages.verdict || input.kind == RunMessages.judgment,
            let origin = input.task, let task = plan.task(origin)
        else { return }
        let attempt = input.body["attempt"]?.intValue ?? input.attempt
        let list = Followup.list(in: input.body)
        let fits: Bool
        switch tasks[origin] {
        case .judging(let current): fits = input.kind == RunMessages.judgment && current == attempt
        case .building(let current), .integrating(let current, _, _):
            fits = input.kind == RunMessages.verdict && current == attempt
        default: fits = false
        }
        guard !list.isEmpty, fits else { return }
        for followup in list {
            if followup.run == nil, !builderAgent {
                droppedFollowups.append(
                    "\(origin): \(followup.title): not added: it has no run step, and the builder drives no agent")
                continue
            }
            if let scope = followup.scope, case let outside = scopeLimit.escaping(scope), !outside.isEmpty {
                droppedFollowups.append(
                    "\(origin): \(followup.title): not added: its scope \(outside.joined(separator: ", ")) is outside "
                        + "the run's scope limit \(scopeLimit.text); submit with --allow-model-scope to allow it")
                continue
            }
            if let why = followupRoom() {
                droppedFollowups.append("\(origin): \(followup.title): \(why)")
                continue
            }
            var number = followupOf.values.filter { $0 == origin }.count + 1
            var id = String("\(origin)-f\(number)".prefix(64))
            while plan.task(id) != nil {
                number += 1
                id = String("\(origin)-f\(number)".prefix(64))
            }
            plan.tasks.append(
                PlanTask(
                    id: id, title: followup.title, prompt: followup.prompt, scope: followup.scope ?? task.scope,
                    dependsOn: [origin], run: followup.run))
            tasks[id] = .waiting
            followupOf[id] = origin
        }
    }

    /// Why no follow-up can be added now, or `nil` when one can: the run is halted or finished,
    /// or its `run_budget` is spent (the attempts started and those the waiting tasks will need,
    /// or the files or lines integrated).
    func followupRoom() -> String? {
        if let halted { return "not added: the run is halted (\(halted))" }
        if stage == .done || stage == .smoke { return "not added: the run has finished its tasks" }
        let budget = plan.runBudget
        if let limit = budget.attempts {
            let planned = plan.tasks.filter { tasks[$0.id] == .waiting }.reduce(0) { $0 + $1.candidates }
            if spent.attempts + planned + 1 > limit {
                return "not added: run_budget attempts \(limit) leave no room "
                    + "(\(spent.attempts) started, \(planned) planned)"
            }
        }
        if let files = budget.files, spent.files >= files {
            return "not added: run_budget files \(files) spent (\(spent.files) integrated)"
        }
        if let lines = budget.lines, spent.lines >= lines {
            return "not added: run_budget lines \(lines) spent (\(spent.lines) integrated)"
        }
        return nil
    }

    /// The follow-up tasks of the run as `runs/<run>/followups.json` holds them, for the roles that
    /// read the run's plan: each task's `id`, `title`, `prompt`, `scope`, `depends_on`, `run` and
    /// `followup_of`.
    var followupsJSON: JSONValue {
        .object([
            "tasks": .array(
                plan.tasks.filter { followupOf[$0.id] != nil }.map { task in
                    [
                        "id": .string(task.id), "title": .string(task.title), "prompt": .string(task.prompt),
                        "scope": .array(task.scope.map(JSONValue.string)),
                        "depends_on": .array(task.dependsOn.map(JSONValue.string)),
                        "run": task.run.map(JSONValue.string) ?? .null,
                        "followup_of": .string(followupOf[task.id] ?? ""),
                    ]
                })
        ])
    }
}

/// The follow-up tasks the planner added to a run, kept in `runs/<run>/followups.json` so that
/// every role reading the run's plan (``RunMessages/plan(of:layout:)``) sees them.
public enum RunFollowups {
    /// The file of `run`.
    public static func file(run: String, layout: BusLayout) -> String { layout.run(run) + "/followups.json" }

    /// Writes the follow-up tasks of `state`, when it has any.
    static func write(_ state: RunState, layout: BusLayout) throws {
        guard !state.followupOf.isEmpty else { return }
        let data = Data((state.followupsJSON.serialized() + "\n").utf8)
        try data.write(to: URL(fileURLWithPath: file(run: state.run, layout: layout)), options: .atomic)
    }

    /// `plan` with the follow-up tasks of `run` added after its own (a task id the plan has is not
    /// added again).
    public static func adding(to plan: Plan, run: String, layout: BusLayout) -> Plan {
        guard let data = FileManager.default.contents(atPath: file(run: run, layout: layout)),
            let json = try? JSONValue.parse(Array(data))
        else { return plan }
        var plan = plan
        for item in json["tasks"]?.arrayValue ?? [] {
            guard let id = item["id"]?.stringValue, plan.task(id) == nil else { continue }
            plan.tasks.append(
                PlanTask(
                    id: id, title: item["title"]?.stringValue ?? id, prompt: item["prompt"]?.stringValue ?? "",
                    scope: item["scope"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    dependsOn: item["depends_on"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    run: item["run"]?.stringValue))
        }
        return plan
    }
}
