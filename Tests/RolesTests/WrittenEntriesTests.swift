import Testing

@testable import Roles

/// What the docs role remembers of the changelog entries it has written.
@Suite("Written changelog entries")
struct WrittenEntriesTests {
    @Test("an entry is known by run, repository, task and commit together")
    func keyedByAll() {
        let written = WrittenEntries()
        #expect(!written.contains(run: "r", repository: "/repo", task: "a", commit: "c1"))
        written.insert(
            [
                Changelog.Entry(task: "a", title: "A", attempts: 1, commit: "c1"),
                Changelog.Entry(task: "b", title: "B", attempts: 2, commit: "c2"),
            ], run: "r", repository: "/repo")
        #expect(written.contains(run: "r", repository: "/repo", task: "a", commit: "c1"))
        #expect(written.contains(run: "r", repository: "/repo", task: "b", commit: "c2"))
        // Another attempt's commit, another run, another repository: not written.
        #expect(!written.contains(run: "r", repository: "/repo", task: "a", commit: "c3"))
        #expect(!written.contains(run: "other", repository: "/repo", task: "a", commit: "c1"))
        #expect(!written.contains(run: "r", repository: "/elsewhere", task: "a", commit: "c1"))
        // Fields are kept apart: "a" + "b" is not "ab" + "".
        written.insert(
            [Changelog.Entry(task: "x\u{0}y", title: "", attempts: 1, commit: "z")], run: "r", repository: "/repo")
        #expect(!written.contains(run: "r", repository: "/repo", task: "x", commit: "y\u{0}z"))
    }
}
