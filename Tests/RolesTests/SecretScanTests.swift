import Bus
import Foundation
import Roles
import Testing

/// Made-up credentials in the shapes the scan knows, assembled at run time so that this file
/// itself holds none.
enum FakeSecrets {
    static let aws = "AK" + "IA" + "Z7Q2X9LMN4PRT8VW"
    static let github = "gh" + "p_" + String(repeating: "a1B2", count: 9)
    static let githubPAT = "github" + "_pat_" + String(repeating: "Q7w_", count: 6)
    static let slack = "xo" + "xb-" + "1234567890-abcdefghij"
    static let openAI = "s" + "k-" + "proj-" + String(repeating: "Ab3d", count: 6)
    static let anthropic = "s" + "k-ant-" + "api03-" + String(repeating: "Xy9_", count: 6)
    static let google = "AI" + "za" + String(repeating: "b7C-d", count: 7)
    static let privateKeyHeader = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
    static let password = "hunter2-Correct-Horse"
}

/// A line and the credential the scan must report in it.
struct SecretCase: CustomTestStringConvertible, Sendable {
    let line: String
    let kind: String
    let shown: String
    var testDescription: String { kind }
}

/// The secret scan on lines, on diff text and on real commits.
@Suite("Secret scan")
struct SecretScanTests {
    static let cases: [SecretCase] = [
        SecretCase(
            line: "aws_access_key_id = \(FakeSecrets.aws)", kind: "AWS access key id", shown: "AKIA" + stars(16)),
        SecretCase(line: "export GH=\(FakeSecrets.github)", kind: "GitHub token", shown: "ghp_" + stars(32)),
        SecretCase(line: "url: https://x/\(FakeSecrets.githubPAT)/y", kind: "GitHub token", shown: "gith" + stars(31)),
        SecretCase(line: "SLACK=\(FakeSecrets.slack) # bot", kind: "Slack token", shown: "xoxb" + stars(22)),
        SecretCase(
            line: "client(key: \"\(FakeSecrets.openAI)\")", kind: "OpenAI-style API key", shown: "sk-p" + stars(28)),
        SecretCase(line: "ANTHROPIC=\(FakeSecrets.anthropic)", kind: "Anthropic API key", shown: "sk-a" + stars(32)),
        SecretCase(line: "maps?key=\(FakeSecrets.google)&x=1", kind: "Google API key", shown: "AIza" + stars(32)),
        SecretCase(line: FakeSecrets.privateKeyHeader, kind: "private key block", shown: FakeSecrets.privateKeyHeader),
        SecretCase(
            line: "DB_PASSWORD = \"\(FakeSecrets.password)\"", kind: "literal assigned to DB_PASSWORD",
            shown: "hunt" + stars(17)),
        SecretCase(
            line: "  \"api_key\": '\(FakeSecrets.password)',", kind: "literal assigned to api_key",
            shown: "hunt" + stars(17)),
        SecretCase(
            line: "authToken := `\(FakeSecrets.password)`", kind: "literal assigned to authToken",
            shown: "hunt" + stars(17)),
    ]

    static func stars(_ count: Int) -> String { String(repeating: "*", count: count) }

    @Test("each pattern is found, and shown with all but its first 4 characters masked", arguments: cases)
    func pattern(_ example: SecretCase) {
        let found = SecretScan().credentials(inLine: example.line)
        #expect(found.count == 1)
        #expect(found.first?.kind == example.kind)
        #expect(found.first?.shown == example.shown)
    }

    @Test(
        "harmless lines are not reported",
        arguments: [
            "// Ask the user for their password before continuing.",
            "password = input(\"Password: \")",
            "let tokenizer = \"bert-base-uncased-tokenizer\"",
            "token = \"${GITHUB_TOKEN_FROM_THE_ENVIRONMENT}\"",
            "secret: \"<put-your-secret-here-please>\"",
            "if password == \"correct-horse-battery-staple\" {",
            "token_url = \"https://example.com/oauth/token\"",
            "api_key = \"xxxxxxxxxxxxxxxxxxxxxxxx\"",
            "password = \"short\"",
            "task-abcdefghijklmnopqrstuvwxyz0123456789 is a " + "s" + "k-" + "short one",
            "AK" + "IA" + "Z7Q2X9LMN4PRT8VWXYZ is too long to be an access key id",
            "-----BEGIN " + "PUBLIC KEY-----",
        ])
    func harmless(_ line: String) {
        #expect(SecretScan().credentials(inLine: line).isEmpty)
    }

    @Test("a key named like a credential keeps the more specific kind, once")
    func overlap() {
        let found = SecretScan().credentials(inLine: "OPENAI_API_KEY = \"\(FakeSecrets.openAI)\"")
        #expect(found.map(\.kind) == ["OpenAI-style API key"])
        let two = SecretScan().credentials(inLine: "a=\(FakeSecrets.aws) b=\(FakeSecrets.github)")
        #expect(two.map(\.kind) == ["AWS access key id", "GitHub token"])
    }

    @Test("only added lines of a commit are scanned, with their file and line number, never shown in full")
    func commits() async throws {
        let repo = try await VerifierRepo.make([
            "config/app.env": "NAME=app\nOLD_KEY=\(FakeSecrets.aws)\nMODE=dev\n",
            "notes.md": "# notes\n",
        ])
        defer { repo.remove() }
        try repo.write([
            // The old key is kept (context) and one line below it is added.
            "config/app.env": "NAME=app\nOLD_KEY=\(FakeSecrets.aws)\nMODE=dev\nSLACK=\(FakeSecrets.slack)\n",
            "src/client.py": "import os\n\n\nclient = Client(\n    token=\"\(FakeSecrets.github)\",\n)\n",
            "keys/deploy key": "\(FakeSecrets.privateKeyHeader)\nb3BlbnNzaC1rZXktdjEAAAAA\n",
            "notes.md": "# notes\nRemember to rotate the password every month.\n",
        ])
        let head = try await repo.commit()
        let findings = try await SecretScan().findings(in: repo.git, from: repo.base, to: head)
        let messages = findings.map(\.message).sorted()
        #expect(
            messages == [
                "config/app.env:4: Slack token: xoxb" + Self.stars(22),
                "keys/deploy key:1: private key block: \(FakeSecrets.privateKeyHeader)",
                "src/client.py:5: GitHub token: ghp_" + Self.stars(32),
            ])
        #expect(findings.allSatisfy { $0.check == .secrets })
        for secret in [FakeSecrets.aws, FakeSecrets.slack, FakeSecrets.github] {
            #expect(!findings.contains { $0.message.contains(secret) })
        }

        // Removing the key adds nothing to report.
        try repo.write(["config/app.env": "NAME=app\n"])
        let removed = try await repo.commit()
        #expect(try await SecretScan().findings(in: repo.git, from: head, to: removed).isEmpty)
    }

    @Test("binary files are skipped; odd file names and far line numbers are right")
    func binaryNamesAndLargeDiffs() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        var binary = Data("key=\(FakeSecrets.aws)\n".utf8)
        binary.append(contentsOf: [0, 1, 2, 0])
        try binary.write(to: URL(fileURLWithPath: repo.tree + "/blob.bin"))
        // More than 1 MiB of added lines before the credential.
        let filler = String(repeating: "let value = 1234567890 // filler line of text\n", count: 30_000)
        try repo.write([
            "big.swift": filler + "let key = \"\(FakeSecrets.anthropic)\"\n",
            "naïve \"quoted\"\tname.txt": "\n\(FakeSecrets.google)\n",
        ])
        let head = try await repo.commit()
        let (matches, total) = try await SecretScan().matches(in: repo.git, from: repo.base, to: head)
        #expect(total == 2)
        #expect(
            matches.map { "\($0.path):\($0.line): \($0.kind)" }.sorted() == [
                "big.swift:30001: Anthropic API key",
                "naïve \"quoted\"\tname.txt:2: Google API key",
            ])
    }

    @Test("a unified diff's hunks give the line numbers; many matches are counted past the limit")
    func diffText() async throws {
        let diff = """
            diff --git a/a.txt b/a.txt
            index 1111111..2222222 100644
            --- a/a.txt
            +++ b/a.txt
            @@ -3,0 +4,2 @@ context
            +plain
            +key=\(FakeSecrets.aws)
            @@ -10 +12 @@
            -old=\(FakeSecrets.github)
            +new=\(FakeSecrets.github)
            diff --git a/gone.txt b/gone.txt
            deleted file mode 100644
            --- a/gone.txt
            +++ /dev/null
            @@ -1 +0,0 @@
            -\(FakeSecrets.slack)
            """
        let matches = SecretScan().matches(inDiff: diff)
        #expect(matches.map { "\($0.path):\($0.line)" } == ["a.txt:5", "a.txt:12"])

        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        let many = (1...70).map { "k\($0)=\(FakeSecrets.aws)" }.joined(separator: "\n") + "\n"
        try repo.write(["keys.txt": many])
        let head = try await repo.commit()
        let findings = try await SecretScan().findings(in: repo.git, from: repo.base, to: head)
        #expect(findings.count == SecretScan.findingLimit + 1)
        #expect(findings.first?.message == "keys.txt:1: AWS access key id: AKIA" + Self.stars(16))
        #expect(findings.last?.message == "and 20 more credentials in the added lines (70 in all)")
    }

    @Test("an unknown commit is a git error")
    func unknownCommit() async throws {
        let repo = try await VerifierRepo.make()
        defer { repo.remove() }
        do {
            _ = try await SecretScan().findings(in: repo.git, from: repo.base, to: "no-such-commit")
            Issue.record("scanned a missing commit")
        } catch {
            #expect(error.code == .git)
        }
    }
}
