import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

/// The human queue from the library side: requests published as roles publish them, replies made
/// by claim and ack, on a real bus.
@Suite("The human queue")
struct HumanDeskTests {
    /// A bus, and a function that publishes a request to `human` as worker `role`.
    struct Desk {
        let temporary: TemporaryBus
        var bus: Bus { temporary.bus }
        var desk: HumanDesk { HumanDesk(bus: temporary.bus) }

        init() throws {
            temporary = try TemporaryBus(roles: ["planner", "builder"])
        }

        @discardableResult
        func publish(
            _ kind: String, from role: String = "builder", run: String = "r1", task: String? = "t1", attempt: Int = 1,
            body: [String: JSONValue]
        ) throws -> Envelope {
            let worker = try WorkerID.current(role: role)
            let envelope = Envelope(
                run: run, task: task, kind: kind, from: worker, to: HumanRequest.role, attempt: attempt, body: body)
            try Publisher(bus: bus, worker: worker).publish(envelope)
            return envelope
        }

        /// The envelopes waiting in `role`'s `new/`.
        func waiting(_ role: String) -> [Envelope] {
            let folder = bus.layout.new(role)
            return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().compactMap {
                FileManager.default.contents(atPath: folder + "/" + $0).flatMap { try? Envelope(decoding: Array($0)) }
            }
        }

        /// The names acked in the human queue's `done/`.
        func done() -> [String] {
            let done = bus.layout.done(HumanRequest.role)
            return ((try? FileManager.default.contentsOfDirectory(atPath: done)) ?? []).flatMap { day in
                (try? FileManager.default.contentsOfDirectory(atPath: done + "/" + day)) ?? []
            }
        }
    }

    @Test("an answer goes to reply_to with the request's run, task, attempt and causation; the question is acked")
    func answerQuestion() throws {
        let d = try Desk()
        let question = try d.publish(
            HumanRequest.question, attempt: 2,
            body: [
                "question": "Tabs or spaces?", "topic": "indentation", "options": ["tabs", "spaces"],
                "recommendation": "spaces", "reply_to": "planner", "summary": "tabs or spaces",
            ])
        let listed = d.desk.requests()
        #expect(listed.map(\.id) == [question.id])
        #expect(listed.first?.options == ["tabs", "spaces"])
        #expect(listed.first?.holder == nil)

        let reply = try d.desk.answer(question.id, text: "spaces, four", by: "ana")
        let landed = d.waiting("planner")
        #expect(landed == [reply])
        #expect(reply.kind == HumanRequest.answer)
        #expect(reply.id == HumanReply.id(replying: question.id, "answer"))
        #expect(reply.id.hasPrefix(String(question.id.prefix(13)) + "-answer-"))
        #expect(reply.causation == question.id)
        #expect(reply.run == "r1" && reply.task == "t1" && reply.attempt == 2)
        #expect(reply.from.role == HumanRequest.role)
        #expect(reply.body["question_id"] == .string(question.id))
        #expect(reply.body["question"] == "Tabs or spaces?")
        #expect(reply.body["answer"] == "spaces, four")
        #expect(reply.body["by"] == "ana")
        #expect(d.done() == ["\(question.id).e1.json"])
        #expect(d.desk.requests().isEmpty)
        let events = JournalReader(layout: d.bus.layout).events(run: "r1")
        #expect(events.contains { $0.event == .ack && $0.id == question.id && $0.role == HumanRequest.role })
        #expect(events.contains { $0.event == .publish && $0.id == reply.id && $0.role == "planner" })

        #expect(throws: RoleError.self) { try d.desk.answer(question.id, text: "again", by: "bo") }
        do {
            _ = try d.desk.answer(question.id, text: "again", by: "bo")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.contains("already answered"))
        }
        #expect(d.waiting("planner").count == 1)
    }

    @Test("without reply_to the answer goes to the asking worker's role")
    func replyToDefault() throws {
        let d = try Desk()
        let question = try d.publish(HumanRequest.question, from: "builder", body: ["question": "which file?"])
        let reply = try d.desk.answer(question.id, text: "a.txt", by: "ana")
        #expect(reply.to == "builder")
        #expect(d.waiting("builder") == [reply])
    }

    @Test("answer refuses an approval, an unknown id, and a reply_to that is not a role; the request stays pending")
    func answerRefusals() throws {
        let d = try Desk()
        let approval = try d.publish(
            HumanRequest.approval, from: "planner", body: ["candidate": 1, "commit": "abc", "reply_to": "planner"])
        do {
            _ = try d.desk.answer(approval.id, text: "yes", by: "ana")
            Issue.record("an approval was answered as a question")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.message.contains("planbus approve r1 t1"))
        }
        do {
            _ = try d.desk.answer("1700000000000-nothing", text: "yes", by: "ana")
            Issue.record("an unknown id was answered")
        } catch {
            #expect(error.code == .notFound)
        }
        let odd = try d.publish(HumanRequest.question, body: ["question": "?", "reply_to": "../etc"])
        do {
            _ = try d.desk.answer(odd.id, text: "yes", by: "ana")
            Issue.record("a reply was sent to an invalid role")
        } catch {
            #expect(error.code == .invalidRequest)
        }
        #expect(Set(d.desk.requests().map(\.id)) == [approval.id, odd.id])
        #expect(d.done().isEmpty)
    }

    @Test("a decision answers the highest attempt's approval, copies candidate and commit, and closes older ones")
    func decideHighestAttempt() throws {
        let d = try Desk()
        let first = try d.publish(
            HumanRequest.approval, from: "planner", task: "t2", attempt: 1,
            body: ["candidate": 1, "commit": "aaa", "title": "first", "reply_to": "planner"])
        let second = try d.publish(
            HumanRequest.approval, from: "planner", task: "t2", attempt: 2,
            body: ["candidate": 3, "commit": "bbb", "title": "second", "reply_to": "planner"])
        let other = try d.publish(
            HumanRequest.approval, from: "planner", task: "t3", attempt: 5, body: ["commit": "ccc"])

        #expect(throws: RoleError.self) {
            try d.desk.decide(run: "r1", task: "t2", approved: false, reason: "  ", by: "ana")
        }
        let decision = try d.desk.decide(run: "r1", task: "t2", approved: false, reason: "too wide", by: "ana")
        let reply = decision.reply
        #expect(reply.causation == second.id)
        #expect(reply.attempt == 2 && reply.task == "t2")
        #expect(reply.kind == HumanRequest.decision)
        #expect(reply.body["approved"] == .bool(false))
        #expect(reply.body["reason"] == "too wide")
        #expect(reply.body["candidate"] == 3)
        #expect(reply.body["commit"] == "bbb")
        #expect(reply.body["by"] == "ana")
        #expect(decision.superseded == [first.id])
        #expect(d.waiting("planner") == [reply])
        #expect(d.desk.requests().map(\.id) == [other.id])

        do {
            _ = try d.desk.decide(run: "r1", task: "t2", approved: true, reason: nil, by: "ana")
            Issue.record("a task was decided twice")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.contains("already decided"))
        }
        let approved = try d.desk.decide(run: "r1", task: "t3", approved: true, reason: nil, by: "bo").reply
        #expect(approved.body["approved"] == .bool(true))
        #expect(approved.body["reason"] == .null)
        #expect(approved.body["candidate"] == .null)
    }

    @Test("a claim left by a replier that died is taken over by the next reply, at the next epoch")
    func deadReplierTakenOver() async throws {
        let d = try Desk()
        let question = try d.publish(HumanRequest.question, body: ["question": "go on?"])
        // A replier process that claimed the question and exited before its ack.
        let child = try ChildProcess.spawn(["/bin/true"])
        _ = await child.wait(timeout: testProcessTimeout).exit
        let gone = try WorkerID(role: HumanRequest.role, host: Host.name, pid: child.pid, incarnation: "0123abcd")
        let queue = try RoleQueue(bus: d.bus, role: HumanRequest.role, worker: gone)
        guard case .claimed = try queue.claim(question.id + ".json") else {
            Issue.record("the question could not be claimed")
            return
        }
        let listed = d.desk.requests()
        #expect(listed.map(\.holder) == [gone])
        #expect(listed.first?.json(now: .now())["state"] == "claimed")

        let reply = try d.desk.answer(question.id, text: "yes", by: "ana")
        #expect(reply.causation == question.id)
        #expect(d.done() == ["\(question.id).e2.json"])
        #expect(d.waiting("builder") == [reply])
    }

    @Test("a request claimed by a live replier is not pending")
    func liveHolder() throws {
        let d = try Desk()
        let question = try d.publish(HumanRequest.question, body: ["question": "go on?"])
        let holder = try WorkerID.current(role: HumanRequest.role)
        let queue = try RoleQueue(bus: d.bus, role: HumanRequest.role, worker: holder)
        guard case .claimed(let claim) = try queue.claim(question.id + ".json") else {
            Issue.record("the question could not be claimed")
            return
        }
        do {
            _ = try d.desk.answer(question.id, text: "yes", by: "ana")
            Issue.record("a question held by a live replier was answered again")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.contains("being answered right now"))
        }
        try queue.release(claim)
        #expect(try d.desk.answer(question.id, text: "yes", by: "ana").causation == question.id)
    }

    @Test("requests are listed oldest first, filtered by run, with the approval's facts read tolerantly")
    func listing() throws {
        let d = try Desk()
        let approval = try d.publish(
            HumanRequest.approval, from: "planner", run: "r2", task: "t9",
            body: [
                "candidate": 2, "commit": "0123456789abcdef", "title": "Add a flag", "branch": "planbus/r2/t9/1",
                "diff": ["files": 2, "insertions": 10, "deletions": 1, "paths": ["a.swift", "b.swift"]],
                "gates": [
                    ["name": "build", "outcome": "exit 0", "passed": true],
                    ["name": "test", "outcome": "exit 1", "passed": false],
                ],
            ])
        let question = try d.publish(HumanRequest.question, run: "r1", body: ["question": "line one\nline two"])
        #expect(d.desk.requests().map(\.id) == [approval.id, question.id])
        #expect(d.desk.requests(run: "r1").map(\.id) == [question.id])
        let request = try #require(d.desk.requests(run: "r2").first)
        #expect(request.diff == .init(files: 2, insertions: 10, deletions: 1, paths: ["a.swift", "b.swift"]))
        #expect(request.gates.map(\.passed) == [true, false])
        let text = request.lines(now: .now()).joined(separator: "\n")
        #expect(text.contains("Add a flag"))
        #expect(text.contains("commit 0123456789ab"))
        #expect(text.contains("gates: 1/2 passed; failed: test"))
        #expect(text.contains("planbus approve r2 t9"))
        let json = request.json(now: .now())
        #expect(json["gates_passed"] == 1 && json["gates_total"] == 2)
        #expect(json["state"] == "pending")
        let asked = try #require(d.desk.requests(run: "r1").first).lines(now: .now())
        #expect(asked.contains("  line two"))
        #expect(asked.last == "  → planbus answer \(question.id) TEXT")
    }

    @Test("replies are signed with $USER, else $LOGNAME, else the user's name as id -un gives it")
    func signature() async throws {
        #expect(HumanDesk.user(environment: ["USER": "ana", "LOGNAME": "x"]) == "ana")
        #expect(HumanDesk.user(environment: ["LOGNAME": "bo"]) == "bo")
        let id = try await runCommand(["/usr/bin/id", "-un"])
        #expect(HumanDesk.user(environment: [:]) == id.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
