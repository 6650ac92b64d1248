import Bus
import Foundation

/// Replaces credentials in text with `[redacted]` before it reaches the bus: transcripts, final
/// texts, reviews, step reports.
///
/// It removes:
/// - every credential the verifier's secret scan knows (API keys of OpenAI, Anthropic, GitHub,
///   Slack, AWS, Google, quoted secret assignments), see `SecretPatterns`;
/// - whole private key blocks, from the `-----BEGIN … PRIVATE KEY-----` line to its `END` line;
/// - `.env`-style assignments to a secret-looking name (`API_KEY=…`, `export GH_TOKEN=…`,
///   `DB_PASSWORD: …`), quoted or not, at the start of a line or after a space, `;`, `,`, `(`, a
///   quote, or an escaped newline or tab (`\n`, as text inside a JSON string of a transcript has
///   it), and JSON members with a string value (`"db_password": "…"`);
/// - bearer tokens (`Authorization: Bearer …`, `"Bearer …"`);
/// - the exact values of the caller's secret-looking environment variables (names containing
///   `KEY`, `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD` or `CREDENTIAL`), and of the variables named
///   as keys whatever their names (every agent's `api_key_env`), values of 8 characters or more,
///   wherever they appear, also as a JSON string escapes them.
public struct Redactor: Sendable {
    /// The text that replaces a credential.
    public static let mark = "[redacted]"

    /// Exact values to hide, longest first.
    public var secrets: [String]

    /// A redactor that also hides the secret-looking values of `environment`, and the values of
    /// the variables named in `keys` whatever their names (the API keys agents are given).
    public init(environment: [String: String] = [:], keys: [String] = []) {
        let values = environment.filter { (Self.isSecretName($0.key) || keys.contains($0.key)) && $0.value.count >= 8 }
            .map(\.value)
        // A transcript of JSON lines holds a value escaped as a JSON string does.
        secrets = Array(Set(values + values.flatMap(Self.escapedForms))).sorted { $0.count > $1.count }
    }

    /// The forms `value` takes inside a JSON string, when they differ from it: `\` and `"`
    /// escaped, and `/` escaped too, as some encoders write it.
    static func escapedForms(_ value: String) -> [String] {
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let slashed = escaped.replacingOccurrences(of: "/", with: "\\/")
        return [escaped, slashed].filter { $0 != value }
    }

    /// `json` with every string in it redacted (keys are kept as they are).
    public func redact(_ json: JSONValue) -> JSONValue {
        switch json {
        case .string(let text): return .string(redact(text))
        case .array(let items): return .array(items.map(redact))
        case .object(let members): return .object(members.mapValues(redact))
        case .null, .bool, .number: return json
        }
    }

    /// True for a variable name that holds a credential.
    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"].contains { upper.contains($0) }
    }

    /// `text` with every credential replaced.
    public func redact(_ text: String) -> String {
        var inKey = false
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append(redactLine(String(line), inPrivateKey: &inKey))
        }
        return lines.joined(separator: "\n")
    }

    /// One line, redacted; `inPrivateKey` carries a private key block across lines.
    public func redactLine(_ line: String, inPrivateKey: inout Bool) -> String {
        if inPrivateKey {
            if line.contains("-----END") && line.contains("PRIVATE KEY") || line.contains("-----END PGP") {
                inPrivateKey = false
            }
            return Self.mark
        }
        if let begin = line.range(of: "-----BEGIN"), line.contains("PRIVATE KEY") || line.contains("PGP PRIVATE") {
            inPrivateKey = !(line.contains("-----END"))
            // What comes before the block on its line (a JSON line holds a whole text) is
            // redacted like any line; the block and the rest of the line are dropped.
            var outside = false
            return redactLine(String(line[..<begin.lowerBound]), inPrivateKey: &outside)
                + "-----BEGIN PRIVATE KEY----- " + Self.mark
        }
        var text = line
        for secret in secrets where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: Self.mark)
        }
        let bytes = Array(text.utf8)
        let hits = SecretPatterns.scan(bytes)
        if !hits.isEmpty {
            var out: [UInt8] = []
            var at = 0
            for hit in hits {
                out += bytes[at..<hit.range.lowerBound]
                out += Array(Self.mark.utf8)
                at = hit.range.upperBound
            }
            out += bytes[at...]
            text = String(decoding: out, as: UTF8.self)
        }
        // A line of ASCII without the words the patterns need cannot match them: most lines skip
        // the regular expressions. (A case-insensitive match may fold other letters to ASCII ones,
        // so a line with any other character always goes through them.)
        let ascii = text.utf8.allSatisfy { $0 < 0x80 }
        let lower = ascii ? text.lowercased() : ""
        for pattern in LinePattern.all where !ascii || pattern.words.contains(where: lower.contains) {
            text = pattern.replace(in: text)
        }
        return text
    }
}

extension Redactor {
    /// A pattern of ``Redactor/redactLine(_:inPrivateKey:)``, compiled once.
    fileprivate struct LinePattern: @unchecked Sendable {  // NSRegularExpression is immutable and thread-safe.
        /// Lowercase words one of which a line must hold (in any case) to match.
        let words: [String]
        let expression: NSRegularExpression
        /// The replacement, `$n` naming groups.
        let template: String

        init(words: [String], _ pattern: String, template: String) {
            self.words = words
            // The patterns are constants of this file: one that does not compile is a programming error.
            self.expression = try! NSRegularExpression(pattern: pattern)
            self.template = template
        }

        func replace(in text: String) -> String {
            expression.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }

        private static let secretWords = ["key", "token", "secret", "password", "passwd", "credential"]

        static let all = [
            // `Authorization: Bearer …`, `"Bearer …"`.
            LinePattern(
                words: ["bearer"], #"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"#, template: "$1" + Redactor.mark),
            // An assignment to a secret-looking name: `API_KEY=…`, `export GH_TOKEN=…`, `DB_PASSWORD: …`.
            LinePattern(
                words: secretWords,
                #"(?i)((?:^|[\s;,("'`]|\\[nrt])(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*(?:key|token|secret|password|passwd|credential)[A-Za-z0-9_]*\s*[=:]\s*)(\\?["']?)[^\s"']{4,}\2"#,
                template: "$1$2" + Redactor.mark + "$2"),
            // The same as a JSON member, quoted or escaped inside a JSON string: `"db_password": "…"`.
            LinePattern(
                words: secretWords,
                #"(?i)(\\?["'][A-Za-z0-9_]*(?:key|token|secret|password|passwd|credential)[A-Za-z0-9_]*\\?["']\s*:\s*\\?["'])[^"'\\]{4,}"#,
                template: "$1" + Redactor.mark),
        ]
    }
}
