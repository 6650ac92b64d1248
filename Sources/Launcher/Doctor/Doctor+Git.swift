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
        let base = FileManager.default.temporaryDirectory.path + "/planbus-doctor-" + FileOps.randomHex(12)
        defer {
            FileOps.removeFile(base + ".out")
            FileOps.removeFile(base + ".err")
        }
        var env = environment
        env["PATH"] = searchPath
        env["LC_ALL"] = "C"
        env["GIT_TERMINAL_PROMPT"] = "0"
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                arguments, environment: env, stdout: .file(base + ".out"), stderr: .file(base + ".err"))
        } catch {
            return Captured(exit: nil, output: "", failure: error.description)
        }
        let exit = await withTaskGroup(of: ChildProcess.Exit?.self) { group in
            group.addTask { await child.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { child.sendToGroup(SIGKILL) }
            group.cancelAll()
            return first
        }
        func firstLine(_ path: String) -> String {
            guard case .bytes(let bytes) = FileOps.readRegular(path, limit: 1 << 20) else { return "" }
            let text = String(decoding: bytes, as: UTF8.self)
            return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        }
        let out = firstLine(base + ".out")
        return Captured(exit: exit, output: out.isEmpty ? firstLine(base + ".err") : out)
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
