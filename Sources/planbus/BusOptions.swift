import ArgumentParser
import Bus
import BusBench
import FileFormats
import Foundation
import Launcher
import Processes
import Roles

/// `--bus DIR` and `--config FILE`, shared by every command that works on a bus.
struct BusOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The bus directory (default: $PLANBUS_BUS, else the configuration's bus, else ./bus).", valueName: "dir"))
    var bus: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file (default: $PLANBUS_CONFIG, else ./planbus.yaml when it exists).",
            valueName: "file"))
    var config: String?

    /// Where the configuration and the bus are found.
    var locator: ConfigLocator { ConfigLocator(config: config, bus: bus) }

    /// The bus directory.
    func path() throws -> String {
        do {
            return try locator.busPath()
        } catch {
            throw CLIFailure(error)
        }
    }

    /// The configuration (the defaults when there is no file).
    func loadConfig() throws -> PlanbusConfig {
        do {
            return try locator.load()
        } catch {
            throw CLIFailure(error)
        }
    }

    func open() throws -> Bus {
        let path = try path()
        do {
            return try Bus.open(at: path)
        } catch {
            throw CLIFailure(error)
        }
    }
}

/// Maps library errors to a message on stderr and an exit code, at the CLI edge only.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var code: Int32

    init(_ error: BusError) {
        message = error.description
        switch error.code {
        case .invalidEnvelope, .invalidBus, .invalidArgument: code = 3
        case .notFound: code = 4
        // A full or read-only filesystem, or a deleted bus folder: the bus is unavailable.
        case .fenced, .io: code = error.busProblem == nil ? 1 : 4
        }
    }

    init(_ error: LauncherError) {
        message = error.description
        switch error.code {
        case .invalidConfig, .invalidArgument: code = 3
        case .notFound: code = 4
        case .conflict, .io: code = 1
        }
    }

    init(_ error: ProcessError) {
        message = error.description
        code = error.code == .invalidArgument ? 3 : 1
    }

    init(_ message: String, code: Int32) {
        self.message = message
        self.code = code
    }

    var description: String { message }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning ``CLIFailure`` and the libraries' errors into `planbus: message` and
    /// the exit code.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            guard let failure = CLIFailure.from(error) else { throw error }
            FileHandle.standardError.write(Data("planbus: \(failure.message)\n".utf8))
            throw ExitCode(failure.code)
        }
    }
}

extension CLIFailure {
    /// The failure an error is reported as, or `nil` for errors of the argument parser and others
    /// that report themselves.
    static func from(_ error: any Error) -> CLIFailure? {
        switch error {
        case let failure as CLIFailure: return failure
        case let error as BusError: return CLIFailure(error)
        case let error as LauncherError: return CLIFailure(error)
        case let error as ProcessError: return CLIFailure(error)
        case let error as BenchError:
            return CLIFailure(error.description, code: error.code == .invalidArgument ? 3 : 1)
        case let error as RoleError:
            let invalid: Set<RoleError.Code> = [.invalidPlan, .invalidRequest]
            return CLIFailure(error.message, code: error.code == .notFound ? 4 : (invalid.contains(error.code) ? 3 : 1))
        case let error as FileFormatError:
            return CLIFailure(error.description, code: error.code == .notFound ? 4 : (error.code == .io ? 1 : 3))
        default: return nil
        }
    }
}

extension FileOps {
    /// Writes a line to stderr.
    static func standardErrorLine(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Writes a line to stdout and flushes it (for `--follow` and pipes).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
