/// Scans the lines a change adds for credentials: API keys, tokens, private keys and literal
/// passwords (see the patterns below), and reports each with its file and line number, showing
/// only the first 4 characters of the credential.
///
/// It reads `git diff --unified=0` between two commits, so only added lines are looked at, never
/// context or removed lines; a file moved without changes adds nothing. Binary files have no lines
/// in a diff, so they are skipped. The diff is read as it is written, in chunks, however large.
///
/// The patterns: private key blocks (`-----BEGIN … PRIVATE KEY-----`), Anthropic keys
/// (`sk-ant-…`), OpenAI-style keys (`sk-` and 20 or more of `[A-Za-z0-9_-]`), GitHub tokens
/// (`gh[pousr]_…`, `github_pat_…`), Slack tokens (`xox[baprs]-…`), AWS access key ids
/// (`AKIA`/`ASIA` and 16 of `[0-9A-Z]`), Google API keys (`AIza` and 35 more), and a quoted
/// literal of 16 or more characters without spaces assigned to a name containing `password`,
/// `secret`, `token`, `api_key` and the like (`DB_PASSWORD = "…"`, `"api_key": "…"`).
/// Placeholders such as `"${TOKEN}"` or `"<your token>"` are not reported.
public struct SecretScan: Sendable {
    /// One credential found.
    public struct Match: Sendable, Equatable {
        /// The file, relative to the repository.
        public var path: String
        /// The line number in the new version of the file, from 1.
        public var line: Int
        /// What was found, such as `AWS access key id` or `literal assigned to DB_PASSWORD`.
        public var kind: String
        /// The credential with all but its first 4 characters masked (for a private key block,
        /// its header line, which is not secret).
        public var shown: String

        /// The finding: `PATH:LINE: KIND: SHOWN`.
        public var finding: Finding {
            Finding(.secrets, "\(path):\(line): \(kind): \(shown)")
        }
    }

    /// The most matches reported one by one; the rest are counted in a last finding.
    public static let findingLimit = 50

    /// Creates a scanner.
    public init() {}

    /// The credentials the change from `base` to `head` adds, in diff order, at most
    /// ``findingLimit`` of them, and how many there are in all.
    ///
    /// - Parameters:
    ///   - git: Git in the repository that has both commits.
    ///   - base: The commit the change starts from.
    ///   - head: The commit the change ends at.
    /// - Throws: ``RoleError`` `git` when the diff cannot be made.
    public func matches(in git: Git, from base: String, to head: String) async throws(RoleError) -> (
        matches: [Match], total: Int
    ) {
        try await git.withOutput(Self.diffArguments(base, head)) { reader in
            var scanner = DiffScanner(limit: Self.findingLimit)
            reader.forEachLine { scanner.feed($0) }
            return (scanner.matches, scanner.total)
        }
    }

    /// A finding for each credential the change from `base` to `head` adds (the first
    /// ``findingLimit``, then one that counts the rest); none when it adds none.
    ///
    /// - Parameters:
    ///   - git: Git in the repository that has both commits.
    ///   - base: The commit the change starts from.
    ///   - head: The commit the change ends at.
    /// - Throws: ``RoleError`` `git` when the diff cannot be made.
    public func findings(in git: Git, from base: String, to head: String) async throws(RoleError) -> [Finding] {
        let (matches, total) = try await self.matches(in: git, from: base, to: head)
        return Self.findings(matches, total: total)
    }

    /// The credentials added in a unified diff's text (as `git diff --unified=0` writes it), at
    /// most `limit` of them.
    ///
    /// - Parameters:
    ///   - diff: The diff.
    ///   - limit: The most matches to return.
    public func matches(inDiff diff: String, limit: Int = .max) -> [Match] {
        var scanner = DiffScanner(limit: limit)
        for line in Array(diff.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            scanner.feed(line)
        }
        return scanner.matches
    }

    /// The credentials in one line of text, each as its kind and what is shown of it.
    ///
    /// - Parameter line: A line, without its newline.
    public func credentials(inLine line: String) -> [(kind: String, shown: String)] {
        let bytes = Array(line.utf8)
        return SecretPatterns.scan(bytes).map { ($0.kind, Self.shown($0, in: bytes)) }
    }

    /// The arguments of the diff that is scanned.
    static func diffArguments(_ base: String, _ head: String) -> [String] {
        [
            "-c", "core.quotePath=false", "diff", "--unified=0", "--no-color", "--no-ext-diff", "--no-textconv",
            "--find-renames", "--src-prefix=a/", "--dst-prefix=b/", "--end-of-options", base, head, "--",
        ]
    }

    /// Findings for `matches`, and one counting the rest of `total`.
    static func findings(_ matches: [Match], total: Int) -> [Finding] {
        var findings = matches.map(\.finding)
        if total > matches.count {
            findings.append(
                Finding(
                    .secrets,
                    "and \(CheckText.count(total - matches.count, "more credential")) in the added lines "
                        + "(\(total) in all)"))
        }
        return findings
    }

    /// What a match shows: its label, or the credential masked.
    static func shown(_ hit: SecretPatterns.Hit, in line: [UInt8]) -> String {
        hit.label ?? CheckText.masked(String(decoding: line[hit.range], as: UTF8.self))
    }
}

/// Reads a unified diff line by line, following the file and line number of each added line,
/// and scans the added lines.
struct DiffScanner {
    /// The most matches kept.
    let limit: Int
    /// The matches kept.
    private(set) var matches: [SecretScan.Match] = []
    /// How many matches there were, kept or not.
    private(set) var total = 0
    /// The file whose hunks follow, or `nil` when it was deleted.
    private var path: String?
    /// The line number of the next added line.
    private var next = 0
    /// True between a `diff --git` line and its first hunk.
    private var inHeader = false

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes the next line of the diff, without its newline.
    mutating func feed(_ line: ArraySlice<UInt8>) {
        guard let first = line.first else { return }
        if first == UInt8(ascii: "+") && !inHeader {
            scan(line.dropFirst())
            next += 1
        } else if first == UInt8(ascii: " ") && !inHeader {
            next += 1
        } else if first == UInt8(ascii: "d") && line.starts(with: "diff ".utf8) {
            inHeader = true
            path = nil
        } else if first == UInt8(ascii: "@") && line.starts(with: "@@ ".utf8) {
            inHeader = false
            next = Self.newStart(line) ?? 1
        } else if inHeader && line.starts(with: "+++ ".utf8) {
            path = Self.path(line.dropFirst(4))
        }
        // Anything else (`-` lines, `\ No newline at end of file`, other header lines) changes
        // neither the file nor the line number.
    }

    private mutating func scan(_ content: ArraySlice<UInt8>) {
        guard content.count >= 15 else { return }
        let bytes = Array(content)
        for hit in SecretPatterns.scan(bytes) {
            total += 1
            if matches.count < limit {
                matches.append(
                    SecretScan.Match(
                        path: path ?? "?", line: next, kind: hit.kind, shown: SecretScan.shown(hit, in: bytes)))
            }
        }
    }

    /// The start line of the new side of a hunk header: `C` in `@@ -A,B +C,D @@`.
    static func newStart(_ header: ArraySlice<UInt8>) -> Int? {
        guard let plus = header.dropFirst(3).firstIndex(of: UInt8(ascii: "+")) else { return nil }
        let digits = header[(plus + 1)...].prefix { $0 >= 0x30 && $0 <= 0x39 }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// The path of a `+++ ` line's name: `b/PATH`, possibly in C quotes, possibly with a tab after
    /// it; `nil` for `/dev/null`.
    static func path(_ name: ArraySlice<UInt8>) -> String? {
        var name = name
        if name.last == UInt8(ascii: "\t") { name = name.dropLast() }
        if name.first == UInt8(ascii: "\"") { name = ArraySlice(unquoted(name)) }
        if name.elementsEqual("/dev/null".utf8) { return nil }
        if name.starts(with: "b/".utf8) { name = name.dropFirst(2) }
        return String(decoding: name, as: UTF8.self)
    }

    /// The bytes of a name git wrote in C quotes (`"a\tb\303\251"`).
    static func unquoted(_ quoted: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var bytes = Array(quoted.dropFirst())
        if bytes.last == UInt8(ascii: "\"") { bytes.removeLast() }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            guard c == UInt8(ascii: "\\"), i < bytes.count else {
                out.append(c)
                continue
            }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "a"): out.append(7)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "v"): out.append(11)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = Int(e - 0x30)
                var k = 0
                while k < 2, i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x37 {
                    value = value * 8 + Int(bytes[i] - 0x30)
                    i += 1
                    k += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            default: out.append(e)
            }
        }
        return out
    }
}
