import Bus
import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// A real HTTP server on 127.0.0.1 (`Fixtures/Agents/http/stub.py` run by python3) that answers
/// with scripted responses in order (the last one repeats) and records every request it gets.
/// A response's `file` is a fixture in ``fixtures`` or an absolute path.
public final class HTTPStub: Sendable {
    /// The stub and its response bodies, in the tests' fixtures.
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/RolesTests/Fixtures/Agents/http").path

    public let directory: String
    public let process: ChildProcess
    public let port: Int

    /// Starts the stub; each response is `[status, fixture file or nil, headers, delay seconds]`.
    public init(_ responses: [(status: Int, file: String?, headers: [String: String], delay: Double)]) async throws {
        directory = FileManager.default.temporaryDirectory.path + "/planbus-http-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script: JSONValue = .array(
            responses.map { reply in
                var entry: [String: JSONValue] = [
                    "status": .number(Double(reply.status)), "delay": .number(reply.delay),
                    "headers": .object(reply.headers.mapValues(JSONValue.string)),
                ]
                if let file = reply.file {
                    entry["body_file"] = .string(file.hasPrefix("/") ? file : Self.fixtures + "/" + file)
                }
                return .object(entry)
            })
        try script.serialized().write(toFile: directory + "/responses.json", atomically: true, encoding: .utf8)
        process = try ChildProcess.spawn(
            ["python3", Self.fixtures + "/stub.py", directory + "/responses.json", directory + "/requests.jsonl"],
            stdout: .file(directory + "/port"), diesWithParent: true)
        let portFile = directory + "/port"
        guard await eventually({ lines(of: portFile).first.flatMap { Int($0) } != nil }),
            let port = lines(of: portFile).first.flatMap({ Int($0) })
        else {
            process.send(SIGKILL)
            throw FixtureError("the HTTP stub did not print its port")
        }
        self.port = port
    }

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// The requests received so far.
    public var requests: [JSONValue] {
        lines(of: directory + "/requests.jsonl").compactMap { try? JSONValue.parse($0) }
    }

    public func stop() async {
        process.send(SIGKILL)
        _ = await process.wait(timeout: testProcessTimeout).exit
        try? FileManager.default.removeItem(atPath: directory)
    }
}
