import Bus
import BusTesting
import Foundation
import Roles
import Testing

/// `planbus questions`, `answer`, `approve` and `reject`: the real command on a real bus, with
/// requests published as the roles publish them.
@Suite("People's commands", .timeLimit(.minutes(3)))
struct HumanCommandTests {
    let temporary: TemporaryBus
    var bus: Bus { temporary.bus }

    init() throws {
        temporary = try TemporaryBus(roles: ["planner", "builder"])
    }

    @discardableResult
    func publish(
        _ kind: String, from role: String, task: String = "t1", attempt: Int = 1, body: [String: JSONValue]
    ) throws -> Envelope {
        let worker = try WorkerID.current(role: role)
        let envelope = Envelope(
            run: "r1", task: task, kind: kind, from: worker, to: HumanRequest.role, attempt: attempt, body: body)
        try Publisher(bus: bus, worker: worker).publish(envelope)
        return envelope
    }

    func run(_ arguments: String...) async throws -> CommandResult {
        try await runCommand([Executables.planbus] + arguments + ["--bus", bus.layout.root])
    }

    /// The envelopes waiting in `role`'s `new/`.
    func waiting(_ role: String) -> [Envelope] {
        let folder = bus.layout.new(role)
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().compactMap {
            FileManager.default.contents(atPath: folder + "/" + $0).flatMap { try? Envelope(decoding: Array($0)) }
        }
    }

    /// True when `id` was acked in the human queue: in `done/` and journalled.
    func acked(_ id: String, epoch: Int = 1) -> Bool {
        let done = bus.layout.done(HumanRequest.role, day: QueueNames.day(of: id))
        return FileManager.default.fileExists(atPath: done + "/\(id).e\(epoch).json")
            && JournalReader(layout: bus.layout).events(run: "r1").contains { $0.event == .ack && $0.id == id }
    }

    @Test("every command answers --help", arguments: ["questions", "answer", "approve", "reject", "watch"])
    func help(command: String) async throws {
        let result = try await runCommand([Executables.planbus, command, "--help"])
        #expect(result.code == 0)
        #expect(result.stdout.contains("USAGE"))
    }

    @Test("questions lists both kinds, oldest first, as text and JSON; an empty queue is one friendly line")
    func questions() async throws {
        let empty = try await run("questions")
        #expect(empty.code == 0)
        #expect(empty.stdout.hasPrefix("nothing waits for a person"))

        let question = try publish(
            HumanRequest.question, from: "builder", attempt: 2,
            body: [
                "question": "Tabs or spaces?", "options": ["tabs", "spaces"], "recommendation": "spaces",
                "reply_to": "planner",
            ])
        let approval = try publish(
            HumanRequest.approval, from: "planner", task: "t2",
            body: [
                "candidate": 1, "commit": "0123456789abcdef", "title": "Add a flag", "reply_to": "planner",
                "diff": ["files": 1, "insertions": 4, "deletions": 0, "paths": ["a.swift"]],
                "gates": [["name": "build", "outcome": "exit 0", "passed": true]],
            ])
        let text = try await run("questions")
        #expect(text.code == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        let first = try #require(lines.firstIndex { $0.hasPrefix(question.id) })
        let second = try #require(lines.firstIndex { $0.hasPrefix(approval.id) })
        #expect(first < second)
        #expect(lines[first].contains("question") && lines[first].contains("task t1 · attempt 2 · from builder"))
        #expect(lines.contains("  Tabs or spaces?"))
        #expect(lines.contains("    2) spaces"))
        #expect(lines.contains("  recommended: spaces"))
        #expect(lines.contains { $0.contains("Add a flag") && $0.contains("commit 0123456789ab") })
        #expect(lines.contains("  diff: 1 file, +4 -0: a.swift"))
        #expect(lines.contains("  gates: 1/1 passed"))

        let json = try await run("questions", "--json", "--run", "r1")
        let requests = try #require(try JSONValue.parse(json.stdout)["requests"]?.arrayValue)
        #expect(requests.map { $0["id"]?.stringValue } == [question.id, approval.id])
        #expect(requests.map { $0["kind"]?.stringValue } == ["question", "approval"])
        #expect(requests[0]["asked_by"] == "builder")
        #expect(requests[1]["gates_passed"] == 1)
        let other = try await run("questions", "--json", "--run", "r9")
        #expect(try JSONValue.parse(other.stdout)["requests"] == .array([]))
        #expect(try await run("questions", "--run", "../x").code == 3)
    }

    @Test("answer sends one answer to reply_to and acks the question; a second answer exits 4")
    func answer() async throws {
        let question = try publish(
            HumanRequest.question, from: "builder", attempt: 3,
            body: ["question": "Which port?", "reply_to": "planner"])
        let result = try await run("answer", question.id, "8080", "--by", "ana", "--json")
        #expect(result.code == 0, "\(result.stderr)")
        let reply = try #require(waiting("planner").first)
        #expect(waiting("planner").count == 1)
        #expect(try JSONValue.parse(result.stdout)["reply"]?["id"]?.stringValue == reply.id)
        #expect(reply.kind == "answer")
        #expect(reply.causation == question.id)
        #expect(reply.run == "r1" && reply.task == "t1" && reply.attempt == 3)
        #expect(reply.body["answer"] == "8080")
        #expect(reply.body["by"] == "ana")
        #expect(reply.body["question"] == "Which port?")
        #expect(reply.body["question_id"] == .string(question.id))
        #expect(acked(question.id))

        let again = try await run("answer", question.id, "9090")
        #expect(again.code == 4)
        #expect(again.stderr.contains("no pending question"))
        #expect(waiting("planner").count == 1)

        let approval = try publish(HumanRequest.approval, from: "planner", body: ["commit": "abc"])
        let wrong = try await run("answer", approval.id, "yes")
        #expect(wrong.code == 3)
        #expect(wrong.stderr.contains("planbus approve r1 t1"))
        #expect(try await run("answer", "1700000000000-missing", "yes").code == 4)
        #expect(try await run("answer", "not-an-id", "yes").code == 3)
        #expect(try await run("answer", question.id).code == 64)
    }

    @Test("the user signs with $USER unless --by is given")
    func signedByUser() async throws {
        let question = try publish(HumanRequest.question, from: "builder", body: ["question": "Go?"])
        var environment = ProcessInfo.processInfo.environment
        environment["USER"] = "carol"
        let result = try await runCommand(
            [Executables.planbus, "answer", question.id, "go", "--bus", bus.layout.root], environment: environment)
        #expect(result.code == 0, "\(result.stderr)")
        #expect(waiting("builder").first?.body["by"] == "carol")
    }

    @Test("answers racing for one question: exactly one is sent")
    func racingAnswers() async throws {
        let question = try publish(HumanRequest.question, from: "builder", body: ["question": "Who wins?"])
        let path = bus.layout.root
        let codes = try await withThrowingTaskGroup(of: Int32.self) { group in
            for index in 0..<4 {
                group.addTask {
                    try await runCommand(
                        [Executables.planbus, "answer", question.id, "answer \(index)", "--bus", path]
                    ).code
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(codes.sorted() == [0, 4, 4, 4])
        #expect(waiting("builder").count == 1)
        #expect(acked(question.id))
    }

    @Test("approve decides the highest attempt; reject needs --reason; a task is decided once")
    func approveAndReject() async throws {
        let older = try publish(
            HumanRequest.approval, from: "planner", task: "t2", attempt: 1,
            body: ["candidate": 1, "commit": "aaa", "reply_to": "planner"])
        let newer = try publish(
            HumanRequest.approval, from: "planner", task: "t2", attempt: 2,
            body: ["candidate": 2, "commit": "bbb", "reply_to": "planner"])

        let noReason = try await run("reject", "r1", "t2")
        #expect(noReason.code == 64)
        #expect(noReason.stderr.contains("--reason"))
        #expect(try await run("reject", "r1", "t2", "--reason", " ").code == 64)
        #expect(waiting("planner").isEmpty)

        let approved = try await run("approve", "r1", "t2", "--by", "ana")
        #expect(approved.code == 0, "\(approved.stderr)")
        #expect(approved.stdout.contains("approved task t2 of run r1 (attempt 2, candidate 2, commit bbb)"))
        let decision = try #require(waiting("planner").first)
        #expect(waiting("planner").count == 1)
        #expect(decision.kind == "decision")
        #expect(decision.causation == newer.id)
        #expect(decision.attempt == 2 && decision.task == "t2")
        #expect(decision.body["approved"] == .bool(true))
        #expect(decision.body["reason"] == .null)
        #expect(decision.body["candidate"] == 2)
        #expect(decision.body["commit"] == "bbb")
        #expect(decision.body["by"] == "ana")
        #expect(acked(newer.id) && acked(older.id))

        let twice = try await run("reject", "r1", "t2", "--reason", "changed my mind")
        #expect(twice.code == 4)
        #expect(twice.stderr.contains("no pending approval"))

        let third = try publish(HumanRequest.approval, from: "planner", task: "t3", body: ["commit": "ccc"])
        let rejected = try await run("reject", "r1", "t3", "--reason", "too wide", "--json")
        #expect(rejected.code == 0, "\(rejected.stderr)")
        let reply = try #require(try JSONValue.parse(rejected.stdout)["reply"])
        #expect(reply["causation"] == .string(third.id))
        #expect(reply["body"]?["approved"] == .bool(false))
        #expect(reply["body"]?["reason"] == "too wide")
        #expect(try await run("approve", "r1", "t9").code == 4)
    }
}
