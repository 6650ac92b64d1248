import Foundation

/// The transcript of an HTTP agent call: each request and response, appended as it happens, with
/// every secret (the API key, wherever it appears) replaced by `[redacted]`.
struct HTTPTranscript: Sendable {
    /// The file appended to.
    var path: String
    /// Strings that must never be written.
    var secrets: [String]

    /// Appends `text` and a newline.
    /// - Throws: ``RoleError`` `io` when the file cannot be created or written.
    func append(_ text: String) throws(RoleError) {
        var line = text
        for secret in secrets where !secret.isEmpty {
            line = line.replacingOccurrences(of: secret, with: "[redacted]")
        }
        let manager = FileManager.default
        if !manager.fileExists(atPath: path), !manager.createFile(atPath: path, contents: nil) {
            throw RoleError(.io, "\(path): cannot create the transcript")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw RoleError(.io, "\(path): cannot open the transcript for writing")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            throw RoleError(.io, "\(path): cannot write the transcript: \(error)")
        }
    }

    /// Headers as `name: value` lines, the values of credential headers redacted.
    static func headerLines(_ headers: [String: String]) -> String {
        let hidden: Set<String> = ["authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"]
        return headers.sorted { $0.key < $1.key }
            .map { "\($0.key): \(hidden.contains($0.key.lowercased()) ? "[redacted]" : $0.value)" }
            .joined(separator: "\n")
    }
}
