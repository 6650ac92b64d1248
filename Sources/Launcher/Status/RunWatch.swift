import Bus
import Roles

/// The text of `planbus watch`: the roles, the run's tasks and what waits for a person.
///
/// ``text(_:)`` is one plain snapshot (what is printed when stdout is not a terminal);
/// ``frame(_:interval:)`` is the same text for a terminal, preceded by the ANSI codes that move
/// the cursor home and clear the screen, and followed by a footer, so each frame redraws in place.
public enum RunWatch {
    /// Cursor home, then clear the screen.
    public static let clear = "\u{1B}[H\u{1B}[2J"

    /// One frame for a terminal, redrawn every `interval`.
    public static func frame(_ snapshot: RunWatchSnapshot, interval: Duration) -> String {
        let ms = interval.components.seconds * 1_000 + interval.components.attoseconds / 1_000_000_000_000_000
        return clear + text(snapshot) + "\n\nevery \(ms) ms · Ctrl-C quits · planbus watch --once for one snapshot"
    }

    /// The snapshot as plain text: a header, the roles, the run and its tasks, the requests.
    public static func text(_ snapshot: RunWatchSnapshot) -> String {
        var out = ["planbus watch · bus \(snapshot.bus) · \(snapshot.taken)", ""]
        out += roles(snapshot.workers)
        out.append("")
        out += run(snapshot)
        out.append("")
        out += people(snapshot.requests, run: snapshot.run, now: snapshot.taken)
        return out.joined(separator: "\n")
    }

    /// The roles, as `planbus ps` shows them; workers whose heartbeat says stopped are counted,
    /// not listed.
    static func roles(_ workers: [WorkerStatus]) -> [String] {
        let live = workers.filter { $0.state != "stopped" }
        let stopped = workers.count - live.count
        var out: [String] = []
        if live.isEmpty {
            out.append("ROLES: none running (planbus up starts them)")
        } else {
            let header = ["ROLE", "INST", "HOST", "PID", "STATE", "ENVELOPE", "HB AGE", "RESTARTS", "MARK"]
            let rows = live.map { r -> [String] in
                [
                    r.role, r.instance.map { "\($0)" } ?? "-", r.host, r.pid.map { "\($0)" } ?? "-", r.state,
                    r.envelope ?? "-",
                    r.heartbeatAgeMs.map { age in age < 0 ? "0.0s" : "\(Double(age / 100) / 10)s" } ?? "-",
                    r.restarts.map { "\($0)" } ?? "-", r.mark.map { $0.uppercased() } ?? "",
                ]
            }
            out += TextTable.format([header] + rows).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init)
        }
        if stopped > 0 { out.append("(\(stopped) stopped worker\(stopped == 1 ? "" : "s") not shown)") }
        return out
    }

    /// The run's line and its tasks' table.
    static func run(_ snapshot: RunWatchSnapshot) -> [String] {
        guard let run = snapshot.run else { return ["RUN: no run has a status yet (planbus submit PLAN starts one)"] }
        guard let status = snapshot.status else { return ["RUN \(run): no status yet"] }
        var facts = ["RUN \(run)"]
        if let plan = status["plan"]?.stringValue { facts.append("plan \(plan)") }
        if let risk = status["risk"]?.stringValue { facts.append("risk \(risk)") }
        if let stage = status["stage"]?.stringValue { facts.append("stage \(stage)") }
        if let halted = status["halted"]?.stringValue {
            facts.append("HALTED: \(halted)")
        } else if status["finished"] == .bool(true) {
            facts.append("finished")
        } else if let waiting = status["waiting"]?.stringValue {
            let prefix = "waiting on a person: "
            facts.append(
                waiting.hasPrefix(prefix)
                    ? "WAITING on a person: " + waiting.dropFirst(prefix.count) : "WAITING: \(waiting)")
        } else {
            facts.append("running")
        }
        var out = [facts.joined(separator: " · ")]
        let tasks = status["tasks"]?.arrayValue ?? []
        if tasks.isEmpty {
            out.append("no tasks yet")
            return out
        }
        let rows = tasks.map { task -> [String] in
            [
                task["id"]?.stringValue ?? "?", task["state"]?.stringValue ?? "?",
                (task["attempt"] ?? task["attempts"])?.intValue.map { "\($0)" } ?? "-",
                detail(task, run: run),
            ]
        }
        out += TextTable.format([["TASK", "STATE", "ATTEMPT", "DETAIL"]] + rows).split(
            separator: "\n", omittingEmptySubsequences: false
        ).map(String.init)
        return out
    }

    /// One line on a task, by its state: what it waits for, its commit, why it failed (the first
    /// finding of a verifier's feedback).
    public static func detail(_ task: JSONValue, run: String) -> String {
        let id = task["id"]?.stringValue ?? "TASK"
        let commit = task["commit"]?.stringValue.map { "commit \($0.prefix(12))" }
        let candidate = task["candidate"]?.intValue.map { "candidate \($0)" }
        let text: String
        switch task["state"]?.stringValue {
        case "awaiting_approval":
            let facts = [candidate, commit].compactMap { $0 }.joined(separator: ", ")
            text = (facts.isEmpty ? "" : facts + ": ") + "planbus approve \(run) \(id), or reject"
        case "asking":
            let question = task["question"]?["text"]?.stringValue ?? task["question"]?.stringValue
            let id = task["question"]?["id"]?.stringValue.map { " \($0)" } ?? ""
            text = "asks: " + (question ?? "a question") + " (planbus answer\(id) TEXT)"
        case "integrated", "integrating":
            text = [candidate, commit].compactMap { $0 }.joined(separator: ", ")
        case "failed":
            let reason = task["reason"]?.stringValue ?? task["last_feedback"]?.stringValue ?? ""
            // A verifier's feedback starts "Rejected: N problems." and lists them as "- " lines.
            let finding =
                reason.hasPrefix("Rejected:")
                ? reason.split(separator: "\n").first { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) } : nil
            text = finding ?? reason
        case "not_started":
            text = "not started: the run halted"
        case "blocked":
            text = task["by"]?.stringValue.map { "blocked by \($0)" } ?? task["reason"]?.stringValue ?? ""
        default:
            text = task["title"]?.stringValue ?? ""
        }
        let line = String(text.split(separator: "\n").first ?? "")
        return line.count > 70 ? String(line.prefix(69)) + "…" : line
    }

    /// The requests waiting for a person: a count, then one line each.
    static func people(_ requests: [HumanRequest], run: String?, now: Timestamp) -> [String] {
        guard !requests.isEmpty else { return ["PEOPLE: nothing waits for a person"] }
        let count = requests.count
        var out = ["PEOPLE: \(count) request\(count == 1 ? "" : "s") wait\(count == 1 ? "s" : "") (planbus questions)"]
        for request in requests {
            let place = [request.envelope.run == run ? nil : "run \(request.envelope.run)", request.envelope.task]
                .compactMap { $0 }.joined(separator: " ")
            var what: String
            if request.isApproval {
                what = "approve? " + (request.title ?? request.summary ?? "")
            } else {
                what = request.question ?? request.summary ?? ""
            }
            what = String(what.split(separator: "\n").first ?? "")
            if what.count > 60 { what = String(what.prefix(59)) + "…" }
            var line = "  \(request.kind)  \(place.isEmpty ? "-" : place)  \(request.id)  \(what)"
            if request.holder != nil { line += "  (being answered)" }
            out.append(line)
        }
        return out
    }
}
