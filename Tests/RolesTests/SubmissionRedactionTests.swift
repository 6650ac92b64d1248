import Bus
import BusTesting
import Foundation
import Testing

@testable import Roles

/// What reaches the bus of a submitted plan, and the handoff's choice of a task's verdict.
@Suite("Submission redaction and the handoff's verdicts")
struct SubmissionRedactionTests {
    private func plan(run step: String, in root: String) throws -> (file: String, text: String, plan: Plan) {
        _ = try FileManager.default.createDirectory(atPath: root + "/repo/.git", withIntermediateDirectories: true)
        let text = """
            version: 1
            name: keys
            goal: a plan with a key in a step
            risk: low
            repository: repo
            tasks:
              - id: t
                title: t
                prompt: t
                scope: [t/**]
                run: \(step)

            """
        let file = root + "/plan.yaml"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return (file, text, try PlanLoader.parse(text, file: file))
    }

    @Test("a plan that no longer reads once a credential in it is redacted is refused, naming why")
    func redactionThatBreaksThePlan() throws {
        let temporary = try TemporaryBus()
        let worker = try WorkerID.current(role: "cli")
        let broken = try plan(
            run: #""mkdir -p t && printf -- '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n' > t/k""#, in: temporary.root)
        #expect {
            try RunSubmission.goal(
                planFile: broken.file, text: broken.text, plan: broken.plan, run: "r1", worker: worker)
        } throws: { error in
            let message = (error as? RoleError)?.message ?? ""
            return message.hasPrefix(broken.file + ": the plan holds what looks like a credential")
                && message.contains("no longer reads")
        }
        // A credential whose redaction leaves the plan readable is redacted, and the goal goes.
        let readable = try plan(run: "echo API_KEY=abcdefgh1234 > t/env", in: temporary.root)
        let goal = try RunSubmission.goal(
            planFile: readable.file, text: readable.text, plan: readable.plan, run: "r2", worker: worker)
        let text = try #require(goal.body["plan_text"]?.stringValue)
        #expect(!text.contains("abcdefgh1234") && text.contains("API_KEY=(redacted)"), "\(text)")
    }

    @Test("the handoff takes, of a task's last attempt, the verdict that integrated, whatever candidate won")
    func handoffVerdictOfTheWinner() throws {
        let temporary = try TemporaryBus(roles: ["planner"])
        let bus = temporary.bus
        let verifier = try WorkerID.current(role: "verifier")
        let publisher = Publisher(bus: bus, worker: verifier)
        func verdict(_ candidate: Int, attempt: Int, integrated: String?) -> Envelope {
            Envelope(
                run: "r1", task: "t", kind: RunMessages.verdict, from: verifier, to: "planner",
                body: [
                    "attempt": .number(Double(attempt)), "candidate": .number(Double(candidate)),
                    "evidence": .string("t/\(attempt)" + (integrated == nil ? "/c\(candidate)" : "")),
                    "integrated": integrated.map(JSONValue.string) ?? .null,
                ])
        }
        // Candidate 1 won: its integration comes between the candidates' verdicts in no fixed order.
        for envelope in [
            verdict(1, attempt: 1, integrated: nil), verdict(1, attempt: 1, integrated: "abc123"),
            verdict(2, attempt: 1, integrated: nil),
        ] {
            try publisher.publish(envelope)
        }
        let queue = try RoleQueue(bus: bus, role: "planner", worker: try WorkerID.current(role: "planner"))
        while let claim = try queue.claimNext() { try queue.ack(claim) }
        let chosen = DocsRole.lastVerdicts(run: "r1", layout: bus.layout)["t"]
        #expect(chosen?["integrated"] == "abc123")
        #expect(chosen?["evidence"] == "t/1")
        // A later attempt speaks for the task, integrated or not.
        try publisher.publish(verdict(1, attempt: 2, integrated: nil))
        while let claim = try queue.claimNext() { try queue.ack(claim) }
        #expect(DocsRole.lastVerdicts(run: "r1", layout: bus.layout)["t"]?["evidence"] == "t/2/c1")
    }
}
