import Bus
import Foundation
import Roles

/// The scratch folder of `planbus demo`: a small shell project in a git repository, a
/// `planbus.yaml`, the plan and the bus.
///
/// ```
/// DIR/repo/          greet.sh, test.sh, tests/, README.md, VERSION: one commit on main
/// DIR/planbus.yaml   planner, two builders, verifier, judge, docs
/// DIR/plan.yaml      the demo's plan (DemoPlan)
/// DIR/bus/           the bus
/// DIR/up.log         the supervisor's output
/// ```
public struct DemoProject: Sendable {
    /// The scratch folder.
    public let folder: String

    /// Names the folder's parts; ``create()`` makes them.
    public init(folder: String) {
        self.folder = folder
    }

    public var repository: String { folder + "/repo" }
    public var config: String { folder + "/planbus.yaml" }
    public var planFile: String { folder + "/plan.yaml" }
    public var busPath: String { folder + "/bus" }
    public var upLog: String { folder + "/up.log" }

    /// The role instances the configuration runs.
    public static let roles: [(name: String, instances: Int)] = [
        ("planner", 1), ("builder", 2), ("verifier", 1), ("judge", 1), ("docs", 1),
    ]

    /// Creates the folder (which must be missing or empty), the repository with its first commit,
    /// the configuration, the plan and the bus.
    /// - Returns: the opened bus.
    /// - Throws: ``LauncherError`` `invalidArgument` when the folder has files in it; `io` when
    ///   something cannot be written or git fails.
    public func create() async throws(LauncherError) -> Bus {
        let files = FileManager.default
        var isFolder: ObjCBool = false
        if files.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw LauncherError(.invalidArgument, "\(folder) is a file; the demo needs a new or empty folder")
            }
            let entries = (try? files.contentsOfDirectory(atPath: folder)) ?? []
            guard entries.isEmpty else {
                throw LauncherError(
                    .invalidArgument,
                    "\(folder) is not empty (\(entries.sorted().prefix(3).joined(separator: ", "))); "
                        + "the demo writes only into a new or empty folder")
            }
        }
        do {
            try files.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Self.configuration.write(toFile: config, atomically: true, encoding: .utf8)
            try DemoPlan.text.write(toFile: planFile, atomically: true, encoding: .utf8)
        } catch {
            throw LauncherError(.io, "cannot write the demo project in \(folder): \(error.localizedDescription)")
        }
        do {
            _ = try await Git.create(
                at: repository, files: Self.projectFiles.map { (path: $0.0, text: $0.1) },
                message: "greet: hello, with a test")
        } catch {
            throw LauncherError(.io, "git in \(repository): \(error.message)")
        }
        let loaded = try ConfigLoader.load(path: config)
        do {
            return try Bus.create(
                at: busPath, settings: loaded.busSettings.applied(to: BusSettings()), roles: Bus.productRoles
            ).bus
        } catch {
            throw LauncherError(.io, "cannot create the bus \(busPath): \(error)")
        }
    }

    /// The configuration: the five product roles, two builders, on `bus/` next to it.
    static let configuration = """
        # The configuration planbus demo runs with: the five roles, two builders, offline.
        version: 1
        bus: bus
        repository: repo
        supervisor:
          stop_grace: 5s
          start_timeout: 30s
        roles:
          planner:
          builder:
            instances: 2
          verifier:
          judge:
          docs:

        """

    /// The project: a greeting program in POSIX shell, and its tests.
    static let projectFiles: [(String, String)] = [
        (
            "README.md",
            """
            # greet

            A greeting program. `sh greet.sh NAME` says hello; `sh test.sh` runs the tests.

            """
        ),
        ("VERSION", "0.1.0\n"),
        (
            "greet.sh",
            """
            #!/bin/sh
            # greet NAME: says hello to NAME.
            set -eu
            echo "Hello, ${1:-world}!"

            """
        ),
        (
            "test.sh",
            """
            #!/bin/sh
            # Runs every tests/test_*.sh from the repository's root; fails when one of them fails.
            cd "$(dirname "$0")" || exit 1
            failed=0
            for test in tests/test_*.sh; do
              if out=$(sh "$test" 2>&1); then
                echo "ok   $test"
              else
                echo "FAIL $test: $out"
                failed=1
              fi
            done
            exit $failed

            """
        ),
        (
            "tests/lib.sh",
            """
            # expect WANTED GOT: fails the test, saying both, when they differ.
            expect() {
              if [ "$2" != "$1" ]; then echo "expected \\"$1\\", got \\"$2\\""; exit 1; fi
            }

            """
        ),
        (
            "tests/test_greet.sh",
            """
            . tests/lib.sh
            expect "Hello, Ada!" "$(sh greet.sh Ada)"

            """
        ),
    ]
}
