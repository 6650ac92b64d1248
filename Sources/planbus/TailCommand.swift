import ArgumentParser
import Bus
import Foundation

struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print a task's build output, and follow it live until the task is done.",
        discussion: """
            Prints runs/RUN/TASK/ATTEMPT/builder.log, the output of the task's build step as the \
            builder writes it, from the latest attempt (or --attempt), then follows it: new output \
            is printed as it arrives, and a later attempt is followed when it starts. It ends when \
            the run's status says the task is integrated, failed or blocked (or at once with \
            --no-follow). Exit code 4 when the run or task has no output yet.

            With an agent, builder.log is the agent's transcript, written line by line as the \
            agent works (credentials redacted). --log review follows the verifier's review of the \
            attempt instead, --log judge the judge's, and so on: any runs/RUN/TASK/ATTEMPT/NAME.log.
            """
    )

    @Argument(help: "The run id.")
    var run: String

    @Argument(help: "The task id.")
    var task: String

    @Option(help: "Start from this attempt (default: the latest).")
    var attempt: Int?

    @Option(help: "Which log of the attempt: builder, review, review-2, judge, judge-review.")
    var log = "builder"

    @Flag(help: "Print what is there and stop.")
    var noFollow = false

    @OptionGroup var busOptions: BusOptions

    func run() async throws {
        try await reportingFailures {
            guard !log.isEmpty, !log.contains("/"), !log.hasPrefix(".") else {
                throw CLIFailure(
                    "--log \(log.debugDescription): expected a log name such as builder or review", code: 64)
            }
            let bus = try busOptions.open()
            guard FileManager.default.fileExists(atPath: bus.layout.run(run)) else {
                throw CLIFailure("no run \(run) on \(bus.layout.root) (planbus status lists the runs)", code: 4)
            }
            let folder = bus.layout.run(run) + "/" + task
            func attempts() -> [Int] {
                ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap(Int.init).sorted()
            }
            guard var current = attempt ?? attempts().last else {
                throw CLIFailure("run \(run) has no output for task \(task) yet (\(folder))", code: 4)
            }
            if noFollow, !FileManager.default.fileExists(atPath: folder + "/\(current)/\(log).log") {
                let have = ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/\(current)")) ?? [])
                    .filter { $0.hasSuffix(".log") }.map { String($0.dropLast(4)) }.sorted()
                throw CLIFailure(
                    "attempt \(current) of \(task) in run \(run) has no \(log).log"
                        + (have.isEmpty ? "" : " (its logs: \(have.joined(separator: ", ")))"), code: 4)
            }
            var offset: UInt64 = 0
            var announced = false
            while true {
                let log = folder + "/\(current)/\(self.log).log"
                if !announced, FileManager.default.fileExists(atPath: log) {
                    FileOps.standardErrorLine("==> \(log) <==")
                    announced = true
                }
                offset = print(from: log, at: offset)
                if noFollow { return }
                if let next = attempts().last, next > current {
                    offset = print(from: log, at: offset)
                    current = next
                    offset = 0
                    announced = false
                    continue
                }
                if isFinal(bus.layout) {
                    _ = print(from: log, at: offset)
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Prints the bytes of `path` from `offset` on; returns the new offset.
    private func print(from path: String, at offset: UInt64) -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        if !data.isEmpty { FileHandle.standardOutput.write(data) }
        return offset + UInt64(data.count)
    }

    /// True when the run's status says the task will change no more.
    private func isFinal(_ layout: BusLayout) -> Bool {
        guard case .bytes(let b) = FileOps.readRegular(layout.run(run) + "/status.json", limit: 16 << 20),
            let status = try? JSONValue.parse(b)
        else { return false }
        let state = (status["tasks"]?.arrayValue ?? []).first { $0["id"]?.stringValue == task }?["state"]?.stringValue
        return state == "integrated" || state == "failed" || state == "blocked"
    }
}
