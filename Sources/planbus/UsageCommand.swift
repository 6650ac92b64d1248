import ArgumentParser
import Bus
import Foundation
import Roles

struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show what agents used and cost: tokens and dollars by role, model, task or run.",
        discussion: """
            Sums the usage records that role envelopes carry (one per agent call) for RUN, or for \
            every run on the bus. COST_USD adds the costs known; SOURCE says where they came from: \
            reported by the agent, estimated from the price table (agents.prices in planbus.yaml), \
            or unknown (a subscription CLI that reports no cost and a model without a price). \
            With "+unknown", some calls had no cost, so the figure is a lower bound.
            """
    )

    @OptionGroup var busOptions: BusOptions

    @Argument(help: "The run (default: every run on the bus).")
    var run: String?

    @Option(help: "Group by role, model, task, run or agent.")
    var by: String = "role"

    @Flag(help: "Print JSON: the groups, the total and every call.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            guard let grouping = RunUsage.Grouping(rawValue: by) else {
                throw CLIFailure(
                    "--by \(by.debugDescription): expected one of "
                        + RunUsage.Grouping.allCases.map(\.rawValue).joined(separator: ", "), code: 64)
            }
            let bus = try busOptions.open()
            if let run, !JournalReader(layout: bus.layout).runs().contains(run) {
                throw CLIFailure("no run \(run) on \(bus.layout.root) (planbus status lists the runs)", code: 4)
            }
            let usage = RunUsage(bus: bus, runs: run.map { [$0] } ?? [])
            let groups = usage.groups(by: grouping)
            if json {
                let doc: JSONValue = [
                    "run": run.map(JSONValue.string) ?? .null, "by": .string(grouping.rawValue),
                    "groups": .array(groups.map(\.json)), "total": usage.total.json,
                    "calls": .array(
                        usage.calls.map { call in
                            var o = call.usage.json.objectValue ?? [:]
                            o["run"] = .string(call.run)
                            o["task"] = call.task.map(JSONValue.string) ?? .null
                            o["envelope"] = .string(call.envelope)
                            o["role"] = .string(call.role)
                            o["agent"] = .string(call.agent)
                            o["model"] = call.model.map(JSONValue.string) ?? .null
                            o["outcome"] = .string(call.outcome)
                            return .object(o)
                        }),
                ]
                emit(doc.prettyPrinted())
                return
            }
            guard !usage.calls.isEmpty else {
                emit(
                    "no agent calls recorded \(run.map { "in run \($0)" } ?? "on this bus") (roles running offline use no agent)"
                )
                return
            }
            emit(UsageTable.render(groups, total: usage.total, heading: grouping.rawValue.uppercased()))
        }
    }
}

/// The text table of `planbus usage`.
enum UsageTable {
    static func render(_ groups: [RunUsage.Group], total: RunUsage.Group, heading: String) -> String {
        let header = [
            heading, "CALLS", "INPUT", "OUTPUT", "CACHE_READ", "CACHE_WRITE", "REASONING", "COST_USD", "SOURCE",
        ]
        func row(_ g: RunUsage.Group) -> [String] {
            // "-" where no call of the group reported that count.
            func n(_ value: Int, _ known: Bool) -> String { known ? "\(value)" : "-" }
            return [
                g.key, "\(g.calls)", n(g.input, g.known.contains("input")), n(g.output, g.known.contains("output")),
                n(g.cacheRead, g.known.contains("cache_read")), n(g.cacheWrite, g.known.contains("cache_write")),
                n(g.reasoning, g.known.contains("reasoning")),
                g.sources.isEmpty ? "-" : String(format: "%.4f", g.costUSD), g.costSource,
            ]
        }
        let rows = [header] + groups.map(row) + [row(total).enumerated().map { $0.offset == 0 ? "TOTAL" : $0.element }]
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
