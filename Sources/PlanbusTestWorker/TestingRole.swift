import Bus
import Foundation
import Logging
import Roles

#if canImport(Glibc)
    import Glibc
#endif

/// A testing role: does what each envelope's body says, so tests can make a role sleep, crash or
/// hang on command. A test fixture, not a product role.
struct TestingRole: Role {
    let out: String?
    var kinds: Set<String> { ["task"] }

    struct Thrown: Error, CustomStringConvertible {
        var description: String { "the envelope asked the handler to throw" }
    }

    func handle(_ claim: Claim, context: RoleContext) async throws -> Disposition {
        let body = claim.envelope.body
        let action = body["action"]?.stringValue ?? "ok"
        let id = claim.envelope.id
        if let out { appendLine(out, "claimed \(id) \(claim.epoch) \(getpid())") }
        switch action {
        case "sleep":
            try await Task.sleep(for: .milliseconds(body["ms"]?.intValue ?? 100))
        case "gate":
            let gate = body["gate"]?.stringValue ?? "/nonexistent"
            while !FileManager.default.fileExists(atPath: gate + "/" + id) {
                try await Task.sleep(for: .milliseconds(20))
                context.heartbeat.progressed()
            }
        case "throw":
            throw Thrown()
        case "defer":
            // Deferred for "ms" at each of the first "times" deliveries, then "then" ("ok" or "throw").
            if claim.epoch <= body["times"]?.intValue ?? 1 {
                let until = Timestamp(milliseconds: Timestamp.now().milliseconds + Int64(body["ms"]?.intValue ?? 500))
                if let out { appendLine(out, "deferred \(id) \(claim.epoch) \(getpid()) \(until.milliseconds)") }
                return .defer(until: until, reason: "testing limit: resets at \(until)")
            }
            if body["then"]?.stringValue == "throw" { throw Thrown() }
        case "backoff":
            // Acked, after asking the worker to back off for "ms" without deferring anything.
            let until = Timestamp(milliseconds: Timestamp.now().milliseconds + Int64(body["ms"]?.intValue ?? 500))
            if let out { appendLine(out, "backoff \(id) \(claim.epoch) \(getpid()) \(until.milliseconds)") }
            context.heartbeat.backoff(until: until, reason: "testing limit: resets at \(until)")
        case "crash":
            kill(getpid(), SIGKILL)
        case "hang":
            // Blocks this thread for good, deaf to cancellation, as a wedged library call would.
            while true { pause() }
        default:
            break
        }
        if let out { appendLine(out, "processed \(id) \(claim.epoch) \(getpid())") }
        return .ack([])
    }
}

/// `planbus-testworker role`: runs ``TestingRole`` on the Roles runtime until stopped.
func runTestingRole() async -> Never {
    let env = Foundation.ProcessInfo.processInfo.environment
    if let code = value("--exit-at-start").flatMap(Int32.init) { exit(code) }
    guard let busPath = value("--bus") ?? env["PLANBUS_BUS"] else { fail("no --bus and no PLANBUS_BUS") }
    guard let role = value("--role") ?? env["PLANBUS_ROLE"] else { fail("no --role and no PLANBUS_ROLE") }
    let instance = (value("--instance") ?? env["PLANBUS_INSTANCE"]).flatMap(Int.init) ?? 0
    let timeout = env["PLANBUS_ENVELOPE_TIMEOUT_MS"].flatMap(Int.init).map { Duration.milliseconds($0) }
    let grace = env["PLANBUS_STOP_GRACE_MS"].flatMap(Int.init).map { Duration.milliseconds($0) } ?? .seconds(10)
    let out = value("--out") ?? env["PLANBUS_TEST_OUT"]
    let settings = RoleSettings(
        role: role, instance: instance, host: value("--host"), agent: env["PLANBUS_AGENT"] ?? "none",
        model: env["PLANBUS_MODEL"], envelopeTimeout: timeout, stopGrace: grace)
    var logger = Logger(label: "testing-role")
    logger.logLevel = .warning
    do {
        let bus = try Bus.open(at: busPath)
        let runtime = try RoleRuntime(bus: bus, settings: settings, role: TestingRole(out: out), logger: logger)
        if let out { appendLine(out, "started \(runtime.worker)") }
        try await runtime.run()
        if let out { appendLine(out, "stopped \(runtime.worker)") }
    } catch {
        fail("\(error)")
    }
    exit(0)
}
