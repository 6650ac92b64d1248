import Foundation
import Roles
import Testing

/// The changelog entries the docs role writes on the integration branch.
@Suite("Changelog")
struct ChangelogTests {
    let a = Changelog.Entry(task: "a", title: "Add a", attempts: 1, commit: "0123456789abcdef")
    let b = Changelog.Entry(task: "b", title: "Fix (b) `x`", attempts: 2, commit: "fedcba9876543210")

    @Test("a missing file gets a title, the run's section, and the entries in order")
    func newFile() {
        let text = Changelog.adding([a, b], to: nil, run: "r1", plan: "shop")
        #expect(
            text == """
                # Changelog

                ## shop (run r1)

                - Add a (`a`, attempt 1, merge 0123456789ab)
                - Fix (b) `x` (`b`, attempt 2, merge fedcba987654)

                """)
    }

    @Test("a model's prose follows the facts on one line, and the entry is still known as written")
    func prose() {
        var withProse = a
        withProse.prose = "Adds a.\n\n  It is small. "
        let text = Changelog.adding([withProse], to: nil, run: "r1", plan: "shop")
        #expect(text?.contains("- Add a (`a`, attempt 1, merge 0123456789ab): Adds a. It is small.\n") == true)
        #expect(Changelog.adding([a], to: text, run: "r1", plan: "shop") == nil)
        var long = b
        long.prose = String(repeating: "x", count: 1000)
        #expect(long.line.count == b.line.count + 2 + 400)
    }

    @Test("a new run's section goes after the title and its introduction, before older runs")
    func newestFirst() {
        let old = """
            # Changelog

            All notable changes.

            ## shop (run r0)

            - Old (`z`, attempt 1, merge 111111111111)

            """
        let text = Changelog.adding([a], to: old, run: "r1", plan: "shop")
        #expect(
            text == """
                # Changelog

                All notable changes.

                ## shop (run r1)

                - Add a (`a`, attempt 1, merge 0123456789ab)

                ## shop (run r0)

                - Old (`z`, attempt 1, merge 111111111111)

                """)
    }

    @Test("an entry already in the run's section is not written again; new ones go after the others")
    func once() throws {
        let first = try #require(Changelog.adding([a], to: nil, run: "r1", plan: "shop"))
        #expect(Changelog.adding([a], to: first, run: "r1", plan: "shop") == nil)
        let second = try #require(Changelog.adding([a, b, b], to: first, run: "r1", plan: "shop"))
        #expect(second.components(separatedBy: "(`a`,").count == 2)
        #expect(second.components(separatedBy: "(`b`,").count == 2)
        #expect(second.hasSuffix("merge 0123456789ab)\n- Fix (b) `x` (`b`, attempt 2, merge fedcba987654)\n"))
        // The same task in another run's section is another entry.
        let other = try #require(Changelog.adding([a], to: second, run: "r2", plan: "shop"))
        #expect(other.components(separatedBy: "(`a`,").count == 3)
    }
}
