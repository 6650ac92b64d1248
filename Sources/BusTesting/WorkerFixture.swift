import Bus
import Foundation
import Launcher
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// A `PlanbusTestWorker work` process: a real worker process for tests to start, pause and kill.
public final class WorkerFixture: Sendable {
    /// The process.
    public let process: ChildProcess
    /// The file it reports to (`processed <id> <epoch>`, `wake <reasons>`).
    public let out: String

    /// Starts a worker for `role` on `bus`.
    /// - Parameters:
    ///   - gate: hold each envelope until `gate/<id>` exists.
    ///   - emit: ack each envelope with one result to this role.
    ///   - environment: extra environment (`PLANBUS_WAKE=poll`, …).
    ///   - allowNext: each handler reports `claimed <id> <handlers running>`, then calls
    ///     `BusWorker.allowNextClaim()` and reports `allowed <id>`.
    ///   - overlap: the worker honours `BusWorker.allowNextClaim()` (``BusWorker/Options/overlap``).
    public init(
        bus: TemporaryBus, role: String = "work", name: String, gate: String? = nil, emit: String? = nil,
        host: String? = nil, environment: [String: String] = [:], allowNext: Bool = false, overlap: Bool = false
    ) throws {
        out = bus.root + "/" + name + ".out"
        var args = [Executables.testWorker, "work", "--bus", bus.path, "--role", role, "--out", out]
        if allowNext { args.append("--allow-next") }
        if overlap { args.append("--overlap") }
        if let gate { args += ["--gate", gate] }
        if let emit { args += ["--emit", emit] }
        if let host { args += ["--host", host] }
        var env = Foundation.ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process = try ChildProcess.spawn(
            args, environment: env, stdout: .file(out + ".log"), stderr: .file(out + ".log"))
    }

    deinit {
        process.send(SIGKILL)
    }

    /// Lines the worker reported.
    public var report: [String] { lines(of: out) }

    /// Ids it processed, with the epoch, in order.
    public var processed: [(id: String, epoch: Int)] {
        report.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "processed", let epoch = Int(parts[2]) else { return nil }
            return (String(parts[1]), epoch)
        }
    }

    /// Waits until the worker reports it has started.
    public func started() async -> Bool {
        await eventually { report.contains { $0.hasPrefix("started ") } }
    }

    /// Asks for a graceful stop and waits for the exit (`nil` when it had to be killed at
    /// ``testProcessTimeout``).
    @discardableResult
    public func stop() async -> ChildProcess.Exit? {
        process.send(SIGTERM)
        return await process.wait(timeout: testProcessTimeout).exit
    }
}

extension TemporaryBus {
    /// The envelope waiting in `new/` of `role` whose `causation` is `id`, if one is there.
    public func pending(_ role: String, causedBy id: String) -> Envelope? {
        let folder = bus.layout.new(role)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            guard let data = FileManager.default.contents(atPath: folder + "/" + name),
                let envelope = try? Envelope(decoding: Array(data))
            else { continue }
            if envelope.causation == id { return envelope }
        }
        return nil
    }

    /// Every file name in `done/` of `role`, across days.
    public func doneNames(_ role: String = "work") -> [String] {
        let layout = bus.layout
        var names: [String] = []
        for day in (try? FileManager.default.contentsOfDirectory(atPath: layout.done(role))) ?? [] {
            names += (try? FileManager.default.contentsOfDirectory(atPath: layout.done(role, day: day))) ?? []
        }
        return names
    }

    /// File names in a queue folder (`new`, `cur`, `retry`, `dead`) of `role`.
    public func names(_ folder: String, _ role: String = "work") -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: bus.layout.queue(role) + "/" + folder)) ?? []
    }

    /// Publishes `count` envelopes for `role` in run `run`; returns their ids.
    @discardableResult
    public func publish(_ count: Int, to role: String = "work", run: String = "run1") throws -> [String] {
        let worker = try WorkerID.current(role: "test")
        let publisher = Publisher(bus: bus, worker: worker)
        var ids: [String] = []
        ids.reserveCapacity(count)
        for i in 0..<count {
            let envelope = Envelope(run: run, kind: "item", from: worker, to: role, body: ["n": .number(Double(i))])
            try publisher.publish(envelope)
            ids.append(envelope.id)
        }
        return ids
    }
}
