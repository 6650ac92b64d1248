import BusTesting
import Foundation
import Roles
import Testing

/// A fresh temporary folder holding a git repository (`repo`, made by `git init`) and plan
/// files; removed when the value is released.
final class PlanFolder {
    let path: String

    /// The repository the plans target.
    var repository: String { path + "/repo" }

    init() async throws {
        path = FileManager.default.temporaryDirectory.path + "/planbus-plan-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path + "/repo", withIntermediateDirectories: true)
        let result = try await runCommand(["git", "init", "-q", path + "/repo"])
        #expect(result.code == 0, "git init failed: \(result.stderr)")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A plan of one task, `t1`, whose step `true` may change `a.txt`, targeting `repository`.
    static func oneTaskPlan(repository: String) -> String {
        """
        version: 1
        name: p
        goal: g
        risk: low
        repository: \(repository)
        base_branch: main
        tasks:
          - id: t1
            title: t
            prompt: p
            scope: [a.txt]
            run: "true"
        """
    }

    /// Writes `text` to the file `name` in the folder and returns its path.
    @discardableResult
    func write(_ text: String, name: String = "plan.yaml") throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// The error loading `text` as a plan gives, or `nil` when it loads.
    func error(loading text: String) throws -> RoleError? {
        let file = try write(text)
        return planError { () throws(RoleError) in _ = try PlanLoader.load(path: file) }
    }
}

/// The error `body` throws, or `nil` when it throws none.
func planError(_ body: () throws(RoleError) -> Void) -> RoleError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}
