import Bus
import Foundation

/// The envelope kinds of a run, and how their ids are made.
///
/// A run is a conversation on the bus: `goal` (to the planner) → `build` (to a builder) → `built`
/// (to the verifier) → `verdict` (to the planner) → the next `build`s. Envelopes a role sends in
/// answer to another have ids derived from what they answer (``derivedID(from:_:)``), so a role
/// that handles the same input twice (after a crash between its work and its ack) sends the same
/// ids, and the bus's duplicate detection drops the second copies.
public enum RunMessages {
    public static let goal = "goal"
    public static let build = "build"
    public static let built = "built"
    public static let verdict = "verdict"
    public static let runFinished = "run_finished"
    /// Planner → planner: write the discovery notes (high risk).
    public static let discover = "discover"
    /// Planner → planner: write the tech spec (medium and high risk).
    public static let spec = "spec"
    /// Planner → verifier: run the preflight or smoke gates; answered by ``checked``.
    public static let check = "check"
    public static let checked = "checked"
    /// Planner → judge: pick among verified candidates; answered by ``judgment``.
    public static let judge = "judge"
    public static let judgment = "judgment"
    /// Planner → people: approve a verified change; answered by ``decision``.
    public static let approval = "approval"
    public static let decision = "decision"
    /// A role → people (the builder's via the planner): a question; answered by ``answer``.
    public static let question = "question"
    public static let answer = "answer"
    /// Planner → verifier: merge an approved candidate into the integration branch.
    public static let integrate = "integrate"
    /// Planner → docs: write a task's changelog entry; answered by ``documented``.
    public static let changelog = "changelog"
    public static let documented = "documented"
    /// The queue people answer from (`planbus questions`, `answer`, `approve`, `reject`).
    public static let human = "human"

    /// The integration branch of `run`: every approved change is merged there; the user's base
    /// branch moves only by `planbus merge`.
    public static func integrationBranch(_ run: String) -> String { "planbus/\(run)/integration" }

    /// A deterministic envelope id for an answer to `source`: the source's 13-digit time, `-`,
    /// `suffix` reduced to `[A-Za-z0-9_-]`, `-`, and 8 hex digits of a hash (64-bit FNV-1a) of the
    /// whole source id; at most 100 bytes (the suffix is shortened, never the hash). The hash
    /// keeps answers to different envelopes of the same millisecond apart; the same source and
    /// suffix always give the same id.
    public static func derivedID(from source: String, _ suffix: String) -> String {
        let time = source.prefix(13)
        let clean = String(
            suffix.unicodeScalars.map { scalar -> Character in
                let ok = CharacterSet.alphanumerics.contains(scalar) && scalar.isASCII || scalar == "-" || scalar == "_"
                return ok ? Character(scalar) : "_"
            })
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in source.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let tag = String(String(hash, radix: 16).suffix(8))
        let fixed = String(repeating: "0", count: 8 - tag.count) + tag
        return time + "-" + clean.prefix(100 - 13 - 2 - 8) + "-" + fixed
    }

    /// The run's goal, as the planner took it (from `q/planner/done/`): the one carrying the plan
    /// (for a free-text goal, the plan goal the planner drafted for it).
    public static func goal(of run: String, layout: BusLayout) -> Envelope? {
        let goals = taken(by: "planner", run: run, kinds: [goal], layout: layout)
        return goals.first { $0.body["plan_text"] != nil } ?? goals.first
    }

    /// The envelopes of `kinds` in `run` that `role` has acked, read from `q/<role>/done/`, in no
    /// particular order. With a ``EnvelopeCache``, each file is read once per process.
    public static func taken(
        by role: String, run: String, kinds: Set<String>, layout: BusLayout, cache: EnvelopeCache? = nil
    ) -> [Envelope] {
        // Without a cache, one that lives for this call: every file is read once either way.
        let cache = cache ?? EnvelopeCache()
        var found: [Envelope] = []
        let done = layout.done(role)
        for day in (try? FileManager.default.contentsOfDirectory(atPath: done)) ?? [] {
            found += cache.envelopes(in: done + "/" + day).filter { $0.run == run && kinds.contains($0.kind) }
        }
        return found
    }

    /// The plan of the run, from its goal, with the follow-up tasks the planner added.
    ///
    /// The goal's plan is read and parsed once per process (``GoalPlans``); the follow-ups every time.
    /// - Throws: ``RoleError`` `notFound` when the run has no goal, `invalidPlan` when its plan
    ///   no longer loads.
    public static func plan(of run: String, layout: BusLayout) throws(RoleError) -> Plan {
        let plan = try GoalPlans.plan(of: run, layout: layout) { () throws(RoleError) -> Plan in
            guard let goal = goal(of: run, layout: layout) else {
                throw RoleError(.notFound, "run \(run) has no goal taken by the planner on \(layout.root)")
            }
            guard let text = goal.body["plan_text"]?.stringValue, let file = goal.body["plan_file"]?.stringValue
            else {
                throw RoleError(.invalidPlan, "the goal of run \(run) carries no plan")
            }
            return try PlanLoader.parse(text, file: file)
        }
        return RunFollowups.adding(to: plan, run: run, layout: layout)
    }
}
