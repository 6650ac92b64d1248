import BusTesting
import Roles

/// A session running every product role (planner, two builders, verifier, judge, docs), and a
/// repository `repo/` in it with one commit on `main`: what the run tests drive.
///
/// - Parameter settings: more top-level lines of `planbus.yaml` (such as `backlog: inbox`).
func runSession(settings: String = "") async throws -> (SessionFixture, Git) {
    let session = try await SessionFixture(
        roles: """
              planner:
              builder:
                instances: 2
              verifier:
              judge:
              docs:
            """, settings: settings)
    let git = try await Git.create(at: session.root + "/repo", files: [("README", "start\n")], message: "start")
    return (session, git)
}
