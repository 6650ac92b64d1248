import Roles
import Testing

/// A pattern, a path, and whether the path matches.
struct GlobCase: CustomTestStringConvertible, Sendable {
    let pattern: String
    let path: String
    let matches: Bool

    init(_ pattern: String, _ path: String, _ matches: Bool) {
        self.pattern = pattern
        self.path = path
        self.matches = matches
    }

    var testDescription: String { "\(pattern) \(matches ? "matches" : "does not match") \(path)" }
}

let globCases: [GlobCase] = [
    // Literals: the whole path, case-sensitive.
    GlobCase("README.md", "README.md", true),
    GlobCase("README.md", "readme.md", false),
    GlobCase("README.md", "docs/README.md", false),
    GlobCase("docs", "docs/README.md", false),
    GlobCase("src/a.swift", "src/a.swift", true),
    GlobCase("src/a.swift", "src/a.swiftx", false),
    // `*`: within one segment, including none and a leading dot, never `/`.
    GlobCase("*.md", "README.md", true),
    GlobCase("*.md", ".md", true),
    GlobCase("*.md", "docs/README.md", false),
    GlobCase("*", ".hidden", true),
    GlobCase("*", "a/b", false),
    GlobCase("src/*", "src/a.swift", true),
    GlobCase("src/*", "src/a/b.swift", false),
    GlobCase("src/*", "src", false),
    GlobCase("a*b*c", "abc", true),
    GlobCase("a*b*c", "aXbYbZc", true),
    GlobCase("a*b*c", "aXbYcZ", false),
    GlobCase("*a*a*a*", "aaa", true),
    GlobCase("*a*a*a*", "aa", false),
    GlobCase("a**b", "aXYb", true),
    GlobCase("a**b", "aX/b", false),
    // `?`: one character other than `/`.
    GlobCase("?.md", "a.md", true),
    GlobCase("?.md", "ab.md", false),
    GlobCase("?.md", ".md", false),
    GlobCase("a?b", "a/b", false),
    // Classes.
    GlobCase("file[0-9].txt", "file7.txt", true),
    GlobCase("file[0-9].txt", "filex.txt", false),
    GlobCase("file[!0-9].txt", "filex.txt", true),
    GlobCase("file[^0-9].txt", "file7.txt", false),
    GlobCase("[abc]", "b", true),
    GlobCase("[abc]", "d", false),
    GlobCase("[]]", "]", true),
    GlobCase("[!]]", "]", false),
    GlobCase("[!]]", "a", true),
    GlobCase("[a-]", "-", true),
    GlobCase("[", "[", true),
    GlobCase("a[b", "a[b", true),
    GlobCase("[a-c][x-z]", "by", true),
    GlobCase("[a-c][x-z]", "bb", false),
    // Escapes.
    GlobCase("\\*.md", "*.md", true),
    GlobCase("\\*.md", "a.md", false),
    GlobCase("a\\?", "a?", true),
    GlobCase("a\\?", "ab", false),
    GlobCase("[\\]]", "]", true),
    // `**`: whole segments.
    GlobCase("**", "a", true),
    GlobCase("**", "a/b/c.swift", true),
    GlobCase("**", ".git/config", true),
    GlobCase("src/**", "src/a.swift", true),
    GlobCase("src/**", "src/a/b/c.swift", true),
    GlobCase("src/**", "src", false),
    GlobCase("src/**", "srcs/a.swift", false),
    GlobCase("src/**", "lib/src/a.swift", false),
    GlobCase("**/*.swift", "a.swift", true),
    GlobCase("**/*.swift", "Sources/Roles/Plan/Glob.swift", true),
    GlobCase("**/*.swift", "Sources/Roles/Plan/Glob.swiftx", false),
    GlobCase("**/Tests/**", "Tests/a.swift", true),
    GlobCase("**/Tests/**", "x/y/Tests/z/a.swift", true),
    GlobCase("**/Tests/**", "x/Tests", false),
    GlobCase("a/**/b", "a/b", true),
    GlobCase("a/**/b", "a/x/b", true),
    GlobCase("a/**/b", "a/x/y/z/b", true),
    GlobCase("a/**/b", "a/x/y/z/c", false),
    GlobCase("a/**/b", "b", false),
    GlobCase("a/**/**/b", "a/b", true),
    GlobCase("a/**/b/**/c", "a/1/b/2/3/c", true),
    GlobCase("a/**/b/**/c", "a/1/c/2/3/b", false),
    GlobCase("Sources/**/*Tests.swift", "Sources/x/PlanTests.swift", true),
    GlobCase("Sources/**/*Tests.swift", "Sources/PlanTests.swift", true),
    GlobCase("Sources/**/*Tests.swift", "Sources/x/Plan.swift", false),
    // Unicode: `?` is one scalar.
    GlobCase("caf?.md", "café.md", true),
    GlobCase("日本/*.txt", "日本/語.txt", true),
    // Empty patterns and paths.
    GlobCase("", "", true),
    GlobCase("", "a", false),
    GlobCase("a", "", false),
]

/// Two patterns and whether some path could match both.
struct OverlapCase: CustomTestStringConvertible, Sendable {
    let a: String
    let b: String
    let overlap: Bool

    init(_ a: String, _ b: String, _ overlap: Bool) {
        self.a = a
        self.b = b
        self.overlap = overlap
    }

    var testDescription: String { "\(a) and \(b) \(overlap ? "overlap" : "are disjoint")" }
}

let overlapCases: [OverlapCase] = [
    OverlapCase("src/**", "src/**", true),
    OverlapCase("src/**", "src/a.swift", true),
    OverlapCase("src/a/**", "src/b/**", false),
    OverlapCase("src/**", "docs/**", false),
    OverlapCase("src/**", "**", true),
    OverlapCase("**/*.swift", "docs/*.md", false),
    OverlapCase("**/*.swift", "Sources/**", true),
    OverlapCase("**/*.swift", "**/*.md", false),
    OverlapCase("**/a.swift", "**/b.swift", false),
    OverlapCase("a", "a/**", true),
    OverlapCase("a", "b", false),
    OverlapCase("a/b", "a/b/c", false),
    OverlapCase("*", "a/b", false),
    OverlapCase("*/b", "a/*", true),
    OverlapCase("*.md", "README.*", true),
    OverlapCase("*.md", "*.swift", false),
    OverlapCase("a*", "b*", false),
    OverlapCase("?", "ab", false),
    OverlapCase("??", "ab", true),
    OverlapCase("a?c", "abc", true),
    OverlapCase("a?c", "abd", false),
    OverlapCase("[ab]x", "cx", false),
    OverlapCase("[ab]x", "bx", true),
    OverlapCase("[!a]x", "ax", false),
    OverlapCase("[ab]", "[cd]", true),  // two classes are not compared: conservatively an overlap
    OverlapCase("src/**/x", "src/**/y", false),
    OverlapCase("src/**/x", "lib/**/x", false),
    OverlapCase("src/**/x", "src/y/**", true),
    OverlapCase("a/**/b/c", "a/x", false),
    OverlapCase("x*y", "xy", true),
    OverlapCase("x*y", "x", false),
    OverlapCase("abc*", "ab", false),
]

@Suite("Glob")
struct GlobTests {
    @Test("matches paths", arguments: globCases)
    func matching(_ c: GlobCase) {
        #expect(Glob(c.pattern).matches(c.path) == c.matches)
    }

    @Test("overlap is symmetric and as expected", arguments: overlapCases)
    func overlap(_ c: OverlapCase) {
        #expect(Glob(c.a).mayOverlap(Glob(c.b)) == c.overlap)
        #expect(Glob(c.b).mayOverlap(Glob(c.a)) == c.overlap)
    }

    @Test("overlap is never denied when a path matches both patterns")
    func overlapIsConservative() {
        let patterns = Set(globCases.map(\.pattern) + overlapCases.flatMap { [$0.a, $0.b] })
        let paths = Set(globCases.map(\.path)).union([
            "src/a/x", "src/y/x", "src/b/c", "a/b/c", "ab", "bx", "cx", "xy", "xzy", "Sources/a/b.swift", "docs/x.md",
            "a/1/b/c", "abc", "abcd", "a/x", "README.md", "README.swift",
        ])
        var checked = 0
        for a in patterns {
            for b in patterns {
                guard let shared = paths.first(where: { Glob(a).matches($0) && Glob(b).matches($0) }) else { continue }
                #expect(Glob(a).mayOverlap(Glob(b)), "\(a) and \(b) both match \(shared)")
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    @Test("many ** stay fast")
    func manyGlobstars() {
        let pattern = Glob(Array(repeating: "**", count: 30).joined(separator: "/") + "/x")
        let deep = Array(repeating: "d", count: 200).joined(separator: "/")
        #expect(!pattern.matches(deep + "/y"))
        #expect(pattern.matches(deep + "/x"))
    }

    @Test("a pattern without wildcards is literal")
    func literal() {
        #expect(Glob("src/a.swift").isLiteral)
        #expect(Glob("src/\\*.swift").isLiteral)
        #expect(!Glob("src/*.swift").isLiteral)
        #expect(!Glob("src/**").isLiteral)
        #expect(!Glob("file[0-9]").isLiteral)
        #expect(Glob("src/**").pattern == "src/**")
    }
}
