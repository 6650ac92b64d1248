// A test fixture, not a product role: a worker process that tests start, stop, kill and pause.
//
//   planbus-testworker work    --bus DIR --role R --out FILE [--gate DIR] [--host NAME] [--emit ROLE]
//                              [--overlap] [--allow-next]
//   planbus-testworker publish --bus DIR --role R --run RUN --count N [--durable]
//   planbus-testworker role    [--bus DIR] [--role R] [--instance N] [--out FILE] [--exit-at-start CODE]
//
// `role` is a testing role run on the Roles runtime, as the supervisor runs a custom role's
// command: bus, role, instance and limits come from the PLANBUS_* environment when not given. It
// handles kind "task", whose body's "action" says what to do: "ok" (default), "sleep" (for "ms"),
// "gate" (wait until the file <gate>/<id> exists, with "gate" in the body), "throw", "crash"
// (SIGKILL itself), "hang" (block its thread, ignoring cancellation), "defer" (defer the envelope
// for "ms" at each of its first "times" deliveries, appending "deferred <id> <epoch> <pid>
// <until-ms>", then do "then": "ok" or "throw") or "backoff" (ack, having asked the worker to back
// off for "ms", appending "backoff <id> <epoch> <pid> <until-ms>"). It appends
// "processed <id> <epoch> <pid>" to FILE before acking.
//
// `work` appends "processed <id> <epoch>" to FILE for each envelope it handles and "wake <reasons>"
// for each rescan (a refused late ack shows in the run's journal as `fenced`). With --gate it holds each
// envelope until the file DIR/<id> exists (a condition the test controls). With --emit it acks
// with one result envelope to that role. With --allow-next each handler first appends
// "claimed <id> <in hand>" (the handlers running, itself included), then calls
// BusWorker.allowNextClaim() and appends "allowed <id>"; --overlap makes the worker honour it.
import Bus
import Foundation
import Logging
import Roles
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

func value(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func appendLine(_ path: String, _ line: String) {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    close(fd)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("planbus-testworker: \(message)\n".utf8))
    exit(2)
}

signal(SIGPIPE, SIG_IGN)
let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : ""
if mode == "role" { await runTestingRole() }
guard let busPath = value("--bus"), let role = value("--role") else { fail("--bus and --role are required") }
let bus: Bus
do { bus = try Bus.open(at: busPath) } catch { fail("\(error)") }

switch mode {
case "publish":
    guard let run = value("--run"), let count = value("--count").flatMap(Int.init) else { fail("--run and --count") }
    let worker = try! WorkerID.current(role: "producer")
    let publisher = Publisher(bus: bus, worker: worker)
    let durable = CommandLine.arguments.contains("--durable")
    for i in 0..<count {
        let envelope = Envelope(run: run, kind: "item", from: worker, to: role, body: ["n": .number(Double(i))])
        do { try publisher.publish(envelope, durable: durable) } catch { fail("\(error)") }
    }
    exit(0)

case "work":
    guard let out = value("--out") else { fail("--out is required") }
    let gate = value("--gate")
    let emit = value("--emit")
    let allowNext = CommandLine.arguments.contains("--allow-next")
    let options = BusWorker.Options(overlap: CommandLine.arguments.contains("--overlap"))
    let inHand = HandlerCount()
    let worker: WorkerID
    do { worker = try WorkerID.current(role: role, host: value("--host")) } catch { fail("\(error)") }
    appendLine(out, "started \(worker)")
    var logger = Logger(label: "testworker")
    logger.logLevel = .warning
    let service: BusWorker
    do {
        service = try BusWorker(
            bus: bus, role: role, worker: worker, logger: logger, options: options,
            observe: { batch in
                if batch.rescan { appendLine(out, "wake \(batch.reasons.sorted().joined(separator: ","))") }
            },
            handler: { claim in
                if allowNext {
                    appendLine(out, "claimed \(claim.envelope.id) \(inHand.enter())")
                    BusWorker.allowNextClaim()
                    appendLine(out, "allowed \(claim.envelope.id)")
                }
                defer { if allowNext { inHand.leave() } }
                if let gate {
                    while !FileManager.default.fileExists(atPath: gate + "/" + claim.envelope.id) {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                appendLine(out, "processed \(claim.envelope.id) \(claim.epoch)")
                var outputs: [Envelope] = []
                if let emit {
                    outputs.append(
                        Envelope(
                            run: claim.envelope.run, task: claim.envelope.task, kind: "result", from: worker, to: emit,
                            causation: claim.envelope.id, body: ["of": .string(claim.envelope.id)]))
                }
                return .ack(outputs)
            })
    } catch { fail("\(error)") }
    let group = ServiceGroup(
        configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do { try await group.run() } catch { fail("\(error)") }
    appendLine(out, "stopped \(worker)")
    exit(0)

default:
    fail("usage: planbus-testworker work|publish --bus DIR --role R ...")
}

/// How many handlers run at once in a `work --allow-next` process.
final class HandlerCount: Sendable {
    private let count = Mutex(0)

    /// Counts a handler in; returns how many run now, itself included.
    func enter() -> Int {
        count.withLock { n in
            n += 1; return n
        }
    }

    func leave() { count.withLock { $0 -= 1 } }
}
