import Bus
import BusTesting
import Foundation
import Testing

/// `planbus usage`: the usage records of a run's envelopes, summed by role, model, task or run.
@Suite("Usage")
struct UsageCommandTests {
    /// Sends an envelope of `run` carrying `records` (each names its role).
    func send(_ bus: String, run: String, task: String?, records: [String]) async throws {
        var arguments = [
            "send", "--bus", bus, "--to", "planner", "--kind", "note", "--run", run, "--body",
            "{\"usage\":[\(records.joined(separator: ","))],\"summary\":\"work\"}",
        ]
        if let task { arguments += ["--task", task] }
        let result = try await runCommand([Executables.planbus] + arguments)
        #expect(result.code == 0, "\(result.stderr)")
    }

    func record(
        _ role: String, _ agent: String, _ model: String, input: Int, output: Int, cost: Double?, source: String
    ) -> String {
        "{\"role\":\"\(role)\",\"agent\":\"\(agent)\",\"model\":\"\(model)\",\"input\":\(input),\"output\":\(output),"
            + "\"cache_read\":null,\"cache_write\":null,\"reasoning\":null,"
            + "\"cost_usd\":\(cost.map { "\($0)" } ?? "null"),\"cost_source\":\"\(source)\",\"outcome\":\"ok\"}"
    }

    @Test("totals by role, model, task and run, each with where its cost came from; JSON for scripts")
    func totals() async throws {
        let temporary = try TemporaryBus(roles: ["planner"])
        let bus = temporary.path
        let claude = record(
            "builder", "claude", "claude-sonnet-4", input: 1000, output: 200, cost: 0.25, source: "reported")
        let codex = record("builder", "codex", "gpt-5", input: 4000, output: 100, cost: 0.125, source: "estimated")
        let second = record(
            "verifier", "anthropic", "claude-opus-4", input: 10, output: 5, cost: 0.25, source: "reported")
        let review = record("verifier", "openai", "local", input: 300, output: 50, cost: nil, source: "unknown")
        try await send(bus, run: "r1", task: "t1", records: [claude])
        try await send(bus, run: "r1", task: "t2", records: [codex])
        try await send(bus, run: "r1", task: "t1", records: [review, second])
        try await send(bus, run: "r2", task: "t1", records: [claude])

        let byRole = try JSONValue.parse(try await planbus("usage", "r1", "--bus", bus, "--json").stdout)
        let groups = byRole["groups"]?.arrayValue ?? []
        #expect(groups.map { $0["key"] } == ["builder", "verifier"])
        #expect(groups[0]["calls"] == 2 && groups[0]["input"] == 5000 && groups[0]["output"] == 300)
        #expect(groups[0]["cost_usd"] == .number(0.375))
        #expect(groups[0]["cost_source"] == "reported+estimated")
        // The verifier's envelope carried two reviews: one without a cost, one with a reported cost.
        #expect(groups[1]["calls"] == 2 && groups[1]["cost_usd"] == .number(0.25))
        #expect(groups[1]["cost_source"] == "reported+unknown" && groups[1]["unknown_cost_calls"] == 1)
        #expect(byRole["total"]?["calls"] == 4 && byRole["total"]?["cost_usd"] == .number(0.625))
        #expect(byRole["calls"]?.arrayValue?.count == 4)
        #expect(byRole["calls"]?.arrayValue?.allSatisfy { $0["run"] == "r1" } == true)

        let byModel = try JSONValue.parse(
            try await planbus("usage", "r1", "--bus", bus, "--by", "model", "--json").stdout)
        #expect(
            Set((byModel["groups"]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue })
                == ["claude/claude-sonnet-4", "codex/gpt-5", "openai/local", "anthropic/claude-opus-4"])
        let byTask = try JSONValue.parse(try await planbus("usage", "--bus", bus, "--by", "task", "--json").stdout)
        let tasks = (byTask["groups"]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue }
        #expect(Set(tasks) == ["r1/t1", "r1/t2", "r2/t1"])
        let byRun = try JSONValue.parse(try await planbus("usage", "--bus", bus, "--by", "run", "--json").stdout)
        #expect(byRun["groups"]?.arrayValue?.map { $0["key"] } == ["r1", "r2"])
        #expect(byRun["total"]?["cost_usd"] == .number(0.875))

        let text = try await planbus("usage", "r1", "--bus", bus)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("ROLE") == true && lines.first?.contains("COST_USD") == true)
        #expect(
            lines.contains { $0.hasPrefix("builder ") && $0.contains("0.3750") && $0.hasSuffix("reported+estimated") })
        #expect(lines.contains { $0.hasPrefix("TOTAL ") && $0.contains("0.6250") })
    }

    @Test("no calls, an unknown run and an unknown grouping say so")
    func mistakes() async throws {
        let temporary = try TemporaryBus(roles: ["planner"])
        let bus = temporary.path
        try await send(bus, run: "r1", task: nil, records: [])
        let none = try await planbus("usage", "r1", "--bus", bus)
        #expect(none.code == 0 && none.stdout.contains("no agent calls recorded in run r1"))
        let missing = try await planbus("usage", "nope", "--bus", bus)
        #expect(missing.code == 4 && missing.stderr.contains("no run nope"))
        let bad = try await planbus("usage", "--bus", bus, "--by", "colour")
        #expect(bad.code == 64 && bad.stderr.contains("expected one of role, model, task, run, agent"))
    }
}
