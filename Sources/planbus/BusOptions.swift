import ArgumentParser
import Bus
import Foundation

/// `--bus DIR`, shared by every command that works on a bus.
struct BusOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The bus directory (default: $PLANBUS_BUS, else ./bus).", valueName: "dir"))
    var bus: String?

    var path: String {
        if let bus { return bus }
        if let env = Foundation.ProcessInfo.processInfo.environment["PLANBUS_BUS"], !env.isEmpty { return env }
        return "bus"
    }

    func open() throws -> Bus {
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
        case .fenced, .io: code = 1
        }
    }

    init(_ message: String, code: Int32) {
        self.message = message
        self.code = code
    }

    var description: String { message }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning ``CLIFailure`` into `planbus: message` and its exit code.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data("planbus: \(failure.message)\n".utf8))
            throw ExitCode(failure.code)
        } catch let error as BusError {
            let failure = CLIFailure(error)
            FileHandle.standardError.write(Data("planbus: \(failure.message)\n".utf8))
            throw ExitCode(failure.code)
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
