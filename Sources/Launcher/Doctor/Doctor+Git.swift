import Bus
import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

extension Doctor {
    // MARK: Git

    /// Checks that `git --version` runs.
    /// - Returns: The result, and git's path when it runs.
    package func git() async -> (check: DoctorCheck, path: String?) {
        let name = "git"
        let install = "sudo apt-get install -y git"
        guard let path = Self.find("git", in: searchPath) else {
            return (.failure(name, "git is not on PATH (\(searchPath))", fix: install), nil)
        }
        let run = await capture([path, "--version"])
        guard run.exit == .exited(0) else {
            let why = run.failure ?? "\(run.exit.map(\.description) ?? "timed out"): \(run.output)"
            return (.failure(name, "\(path) --version failed (\(why))", fix: install), nil)
        }
        return (.ok(name, "\(run.output) at \(path)"), path)
    }

    /// Checks that `repository` is a git work tree.
    package func repository(_ repository: String, git: String?) async -> DoctorCheck {
        let name = "repository"
        let fix =
            "git -C \(repository) init (or set repository: in planbus.yaml to your project's work tree)"
        guard let git else {
            return .warning(name, "\(repository) not checked: git does not run", fix: "install git (see the git check)")
        }
        var st = stat()
        guard stat(repository, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            return .warning(name, "\(repository) is not a directory", fix: fix)
        }
        let run = await capture([git, "-C", repository, "rev-parse", "--is-inside-work-tree"])
        if run.exit == .exited(0) && run.output == "true" {
            return .ok(name, "\(repository) is a git work tree")
        }
        let said = run.failure ?? run.output
        return .warning(
            name, "\(repository) is not a git work tree (git rev-parse: \(said.isEmpty ? "no answer" : said))",
            fix: fix)
    }

    /// The result of a program run to completion.
    struct Captured {
        /// How it ended, or `nil` when it was killed for running too long.
        var exit: ChildProcess.Exit?
        /// The first line of its stdout, or else of its stderr.
        var output: String
        /// Why it could not start.
        var failure: String?
    }

    /// Runs `arguments` with this doctor's environment, for at most `timeout`.
    func capture(_ arguments: [String], timeout: Duration = .seconds(10)) async -> Captured {
        var env = environment
        env["PATH"] = searchPath
        env["LC_ALL"] = "C"
        env["GIT_TERMINAL_PROMPT"] = "0"
        let run: ProgramRun
        do {
            run = try await ProgramRun.run(arguments, environment: env, timeout: timeout)
        } catch {
            return Captured(exit: nil, output: "", failure: error.description)
        }
        func firstLine(_ text: String) -> String {
            text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        }
        let out = firstLine(run.stdout)
        return Captured(exit: run.exit, output: out.isEmpty ? firstLine(run.stderr) : out)
    }

    /// The executable regular file `name` in the first folder of `searchPath` that has one.
    package static func find(_ name: String, in searchPath: String) -> String? {
        for folder in searchPath.split(separator: ":") where !folder.isEmpty {
            let path = folder + "/" + name
            var st = stat()
            if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(path, X_OK) == 0 { return path }
        }
        return nil
    }
}
