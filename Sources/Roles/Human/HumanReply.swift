import Bus
import Foundation

/// The replies a person makes to the requests of the `human` queue.
///
/// A reply carries the request's `run`, `task` and `attempt`, names the request as its
/// `causation`, goes to the request's ``HumanRequest/replyTo`` queue, and has an id derived from
/// the request's (``RunMessages/derivedID(from:_:)`` with `answer` or `decision`), so a reply
/// sent twice is dropped by the bus's duplicate detection, and requests made in the same
/// millisecond get different replies (the id ends with a hash of the whole request id).
public enum HumanReply {
    /// The `answer` to a `question`: body `question_id`, `question` (the text asked), `answer`,
    /// `by` and `summary`.
    public static func answer(to request: HumanRequest, text: String, by user: String, from worker: WorkerID)
        -> Envelope
    {
        let asked = request.question ?? ""
        let subject = request.topic ?? asked
        let body: [String: JSONValue] = [
            "question_id": .string(request.id), "question": .string(asked), "answer": .string(text),
            "by": .string(user),
            "summary": .string(oneLine("\(user) answered \(quote(subject, 40)): \(quote(text, 60))")),
        ]
        return reply(to: request, kind: HumanRequest.answer, suffix: "answer", body: body, from: worker)
    }

    /// The `decision` on an `approval`: body `approved`, `reason` (or `null`), `by`, and the
    /// request's `candidate` and `commit`, and `summary`.
    public static func decision(
        on request: HumanRequest, approved: Bool, reason: String?, by user: String, from worker: WorkerID
    ) -> Envelope {
        let task = request.envelope.task ?? "the task"
        var summary = "\(user) \(approved ? "approved" : "rejected") \(task)"
        if let candidate = request.candidate { summary += " (candidate \(candidate))" }
        if let reason { summary += ": \(reason)" }
        let body: [String: JSONValue] = [
            "approved": .bool(approved), "reason": reason.map(JSONValue.string) ?? .null, "by": .string(user),
            "candidate": request.candidate.map { .number(Double($0)) } ?? .null,
            "commit": request.commit.map(JSONValue.string) ?? .null, "summary": .string(oneLine(summary)),
        ]
        return reply(to: request, kind: HumanRequest.decision, suffix: "decision", body: body, from: worker)
    }

    private static func reply(
        to request: HumanRequest, kind: String, suffix: String, body: [String: JSONValue], from worker: WorkerID
    ) -> Envelope {
        let source = request.envelope
        // A person may paste a credential into an answer or a reason: it never reaches the bus.
        let redacted = Redactor(environment: ProcessInfo.processInfo.environment).redact(.object(body)).objectValue
        return Envelope(
            id: id(replying: source.id, suffix), run: source.run, task: source.task, kind: kind,
            from: worker, to: request.replyTo, causation: source.id, attempt: source.attempt, body: redacted ?? body)
    }

    /// The id of the `kind` reply (`answer` or `decision`) to request `id`.
    public static func id(replying id: String, _ kind: String) -> String {
        RunMessages.derivedID(from: id, kind)
    }

    private static func quote(_ text: String, _ limit: Int) -> String {
        let flat = oneLine(text)
        return flat.count > limit ? String(flat.prefix(limit - 1)) + "…" : flat
    }

    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
    }
}
