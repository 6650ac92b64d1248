import Bus
import BusTesting
import Foundation
import Processes
import Roles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The verifier's overlap, under `planbus up` on a real repository: it checks one build while it
/// merges the one before.
@Suite("The verifier checks a build while it merges another", .serialized)
struct VerifierOverlapTests {
    @Test("while the merge of the first build is held, the verifier claims the second; both are integrated")
    func checksWhileMerging() async throws {
        let (session, _) = try await runSession()
        let root = session.root
        // The first move of the run's integration branch after it was made (the first merge)
        // waits for a file, git's reference-transaction hook holding its update.
        let hook = root + "/repo/.git/hooks/reference-transaction"
        try """
        #!/bin/sh
        [ "$1" = prepared ] || exit 0
        while read old new ref; do
          if [ "$ref" = refs/heads/planbus/ov1/integration ] && [ "$old" != 0000000000000000000000000000000000000000 ] \\
            && [ ! -e '\(root)/held' ]; then
            touch '\(root)/held'
            while [ ! -e '\(root)/release' ]; do sleep 0.05; done
          fi
        done
        exit 0

        """.write(toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
        let plan = root + "/plan.yaml"
        // Two independent tasks, each writing its own file.
        let tasks = ["a", "b"].map { id in
            "  - {id: \(id), title: write \(id).txt, prompt: write \(id).txt, scope: [\(id).txt], run: echo \(id) > \(id).txt}"
        }
        try
            ([
                "version: 1", "name: overlap", "goal: two independent changes", "risk: low", "repository: repo",
                "tasks:",
            ]
            + tasks).joined(separator: "\n").write(toFile: plan, atomically: true, encoding: .utf8)
        let up = try session.up()
        defer { up.send(SIGTERM) }
        let submitted = try await session.planbus("submit", plan, "--json", "--run", "ov1")
        #expect(submitted.code == 0, "\(submitted.stderr)")
        #expect(await eventually { FileManager.default.fileExists(atPath: root + "/held") })

        // With the first merge held, and so its `built` unacked, the verifier has claimed the other.
        let layout = session.bus.layout
        func verifierBuilds() -> (claimed: Set<String>, acked: Int) {
            let events = JournalReader(layout: layout).events(run: "ov1").filter { $0.role == "verifier" }
            let claimed = Set(events.filter { $0.event == .claim && $0.kind == RunMessages.built }.map(\.id))
            return (claimed, events.filter { $0.event == .ack && claimed.contains($0.id) }.count)
        }
        #expect(await eventually { verifierBuilds().claimed.count == 2 })
        #expect(verifierBuilds().acked == 0)
        #expect(FileManager.default.createFile(atPath: root + "/release", contents: nil))

        let status = layout.run("ov1") + "/status.json"
        #expect(
            await eventually {
                guard let data = FileManager.default.contents(atPath: status),
                    let state = try? JSONValue.parse(Array(data))
                else { return false }
                return state["finished"] == .bool(true)
            })
        let state = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: status))))
        let states = (state["tasks"]?.arrayValue ?? []).compactMap { $0["state"]?.stringValue }
        #expect(states == ["integrated", "integrated"], "\(state.serialized())")
        #expect(verifierBuilds().acked == 2)
    }
}
