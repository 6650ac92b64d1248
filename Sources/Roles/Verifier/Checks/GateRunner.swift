import FileFormats
import Foundation
import Processes

/// Runs gates in a work tree, fail closed, saving each one's output as evidence.
///
/// A gate's command runs in ``directory`` with ``environment``, in its own session and process
/// group, with no standard input. Its standard output and error both go to the log file given,
/// after a first line `$ COMMAND`; a last line `[planbus] …` says how it ended. At its timeout, or
/// when the calling task is cancelled, its whole process group is killed; when it exits, whatever
/// it left running in its group is killed too, as is everything it ran if this process dies.
///
/// Before and after the command, the work tree is compared (see ``GateResult``): a change to a
/// path the gate protects fails it. The log file is left out of the comparison when it lies
/// inside the work tree.
public struct GateRunner: Sendable {
    /// How many lines of the log's end a result keeps, for feedback.
    public static let tailLines = 40

    /// The folder gates run in: a git work tree or a folder inside one.
    public let directory: String
    /// The environment of every gate's command; its `PATH` is where programs are looked for.
    public let environment: [String: String]
    /// Git in ``directory``, to compare the work tree before and after a gate.
    public let git: Git
    /// What a gate prints goes to a private file outside the bus first, and reaches its log
    /// through this redactor (``Redactor``), so a gate that prints a credential leaves none in its
    /// evidence.
    public var redactor: Redactor

    /// Creates a runner.
    ///
    /// - Parameters:
    ///   - directory: The folder gates run in, inside a git work tree.
    ///   - environment: The environment of the gates' commands; this process's by default.
    ///   - git: Git for that work tree; `Git(directory: directory)` by default.
    ///   - keys: Variables of `environment` whose values are hidden in the logs whatever their
    ///     names (the agents' `api_key_env`), besides the secret-looking ones.
    public init(
        directory: String, environment: [String: String] = Foundation.ProcessInfo.processInfo.environment,
        git: Git? = nil, keys: [String] = []
    ) {
        self.directory = directory
        self.environment = environment
        self.git = git ?? Git(directory: directory)
        self.redactor = Redactor(environment: environment, keys: keys)
    }

    /// Runs one gate to completion or its timeout.
    ///
    /// A command that cannot start, times out, exits non-zero, or changes a protected path makes a
    /// result that did not pass; none of these throw.
    ///
    /// - Parameters:
    ///   - gate: The gate.
    ///   - log: The evidence log to write, replaced when it exists; its folder is created.
    /// - Returns: The result, with the log's last ``tailLines`` lines.
    /// - Throws: ``RoleError`` `io` when the log cannot be written; `git` when ``directory`` is not
    ///   in a git work tree or its state cannot be read before the gate runs.
    public func run(_ gate: Gate, log: String) async throws(RoleError) -> GateResult {
        let command = redactor.redact(PlanText.shellLine(gate.command.arguments))
        try Self.startLog(log, command: command)
        let output = try TranscriptPump.outputFile()
        let pump = TranscriptPump(from: output, to: log, redactor: redactor)
        let root = try await git.run(["rev-parse", "--show-toplevel"])
        let logInTree = Self.path(log, inside: root)
        let before = try await WorkTreeState.take(git, root: root)

        let started = ContinuousClock.now
        let outcome: GateResult.Outcome
        do {
            let child = try ChildProcess.spawn(
                gate.command.arguments, environment: environment, directory: directory, stdout: output.output,
                stderr: output.output, newSession: true, diesWithParent: true, killsGroupOnExit: true)
            let ending = await child.wait(timeout: gate.timeout)
            pump.pump(final: true)
            switch ending {
            case .ended(.exited(let status)): outcome = .exited(status)
            case .ended(.signaled(let signal)): outcome = .signaled(signal)
            case .timedOut: outcome = .timedOut(gate.timeout)
            case .cancelled: outcome = .cancelled
            }
        } catch {
            outcome = .notStarted(error.description)
        }
        let duration = ContinuousClock.now - started

        var protectedChanges: [String] = []
        var otherChanges: [String] = []
        var changeCheckError: String?
        if case .notStarted = outcome {
            // Nothing ran, so nothing changed.
        } else {
            do {
                let after = try await WorkTreeState.take(git, root: root)
                let isProtected = Self.matcher(gate.protects)
                for path in try await before.changedPaths(to: after, git: git) where path != logInTree {
                    if isProtected(path) {
                        protectedChanges.append(path)
                    } else {
                        otherChanges.append(path)
                    }
                }
            } catch {
                changeCheckError = error.message
            }
        }

        var result = GateResult(
            name: gate.name, command: command, outcome: outcome, duration: duration, log: log,
            protects: gate.protects, protectedChanges: protectedChanges, otherChanges: otherChanges,
            changeCheckError: changeCheckError)
        Self.finishLog(log, result: result)
        result.logTail = Self.tail(of: log, lines: Self.tailLines)
        return result
    }

    /// Runs gates one after another, each with its log in `logFolder` (see ``logName(for:index:)``).
    ///
    /// - Parameters:
    ///   - gates: The gates, in order.
    ///   - logFolder: The folder for the logs, created when missing.
    ///   - stopAtFirstFailure: Skip the gates after the first that fails; by default all run, so
    ///     feedback can name every failure.
    /// - Returns: The results of the gates that ran, in order; gates left when the task is
    ///   cancelled do not run.
    /// - Throws: As ``run(_:log:)``.
    public func run(_ gates: [Gate], logFolder: String, stopAtFirstFailure: Bool = false) async throws(RoleError)
        -> [GateResult]
    {
        var results: [GateResult] = []
        for (index, gate) in gates.enumerated() {
            if Task.isCancelled { break }
            let result = try await run(gate, log: logFolder + "/" + Self.logName(for: gate, index: index))
            results.append(result)
            if stopAtFirstFailure && !result.passed { break }
        }
        return results
    }

    /// The log file name of the gate at `index` (from 0) of a list: `gate-01-NAME.log`, with each
    /// character of the name other than a letter, digit, `.`, `_` or `-` written as `_`.
    public static func logName(for gate: Gate, index: Int) -> String {
        let safe = String(
            gate.name.unicodeScalars.map { scalar in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
                    ? Character(scalar) : "_"
            })
        let number = index + 1 < 10 ? "0\(index + 1)" : "\(index + 1)"
        return "gate-\(number)-\(safe.prefix(64)).log"
    }

    /// Whether a path is protected by `patterns`: it matches one of them as a glob, or lies inside
    /// a folder one of them names (`Tests` protects `Tests/a.swift`).
    static func matcher(_ patterns: [String]) -> @Sendable (String) -> Bool {
        let globs = patterns.flatMap { pattern in
            let folder = pattern.hasSuffix("/") ? String(pattern.dropLast()) : pattern
            return folder.isEmpty ? [Glob(pattern)] : [Glob(pattern), Glob(folder + "/**")]
        }
        return { path in globs.contains { $0.matches(path) } }
    }

    /// `path` relative to the folder `root`, when it lies inside it.
    static func path(_ path: String, inside root: String) -> String? {
        let full = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let top = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        return full.hasPrefix(top + "/") ? String(full.dropFirst(top.count + 1)) : nil
    }

    /// Creates (or empties) the log, with its folder, and writes its first line.
    static func startLog(_ log: String, command: String) throws(RoleError) {
        let folder = (log as NSString).deletingLastPathComponent
        do {
            if !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        } catch {
            throw RoleError(.io, "cannot create the evidence folder \(folder): \(error.localizedDescription)")
        }
        guard FileManager.default.createFile(atPath: log, contents: Data("$ \(command)\n".utf8)) else {
            throw RoleError(.io, "cannot write the evidence log \(log)")
        }
    }

    /// Appends the last lines: how the gate ended and what it changed.
    static func finishLog(_ log: String, result: GateResult) {
        var text = "[planbus] gate \(QuotedText.quoted(result.name)): \(result.outcome) after "
        text += CheckText.duration(result.duration) + "\n"
        if !result.protectedChanges.isEmpty {
            text += "[planbus] changed protected paths: \(CheckText.list(result.protectedChanges))\n"
        }
        if !result.otherChanges.isEmpty {
            text += "[planbus] changed other paths: \(CheckText.list(result.otherChanges))\n"
        }
        if let error = result.changeCheckError { text += "[planbus] cannot compare the work tree: \(error)\n" }
        guard let handle = FileHandle(forUpdatingAtPath: log) else { return }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        if size > 0, (try? handle.seek(toOffset: size - 1)) != nil, let last = try? handle.read(upToCount: 1),
            last != Data("\n".utf8)
        {
            // The command's last line has no newline: end it, so this starts a line of its own.
            text = "\n" + text
        }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(text.utf8))
    }

    /// The last `lines` lines of a file, each cut to 400 characters; read from its last 64 KiB.
    static func tail(of path: String, lines: Int) -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > 65_536 ? size - 65_536 : 0
        guard (try? handle.seek(toOffset: start)) != nil, let data = try? handle.readToEnd() else { return [] }
        var all = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if start > 0, !all.isEmpty { all.removeFirst() }
        while let last = all.last, last.isEmpty { all.removeLast() }
        return all.suffix(lines).map { CheckText.clipped(String($0), to: 400) }
    }
}
