import Foundation

/// Polls `condition` every `interval` until it holds or `timeout` passes.
///
/// The default time-out is ``testProcessTimeout``: a condition that holds returns at once, so a
/// long limit costs nothing, while a short one turns a loaded machine into a failed test.
/// - Returns: whether the condition held (tests `#expect` it).
public func eventually(
    timeout: Duration = testProcessTimeout, interval: Duration = .milliseconds(20), _ condition: () throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: interval)
    }
}

/// The longest a test waits for a process it started to end by itself: past it the process group
/// is killed and the test fails, where an unbounded wait would hang the whole suite.
public let testProcessTimeout: Duration = .seconds(180)

/// Reads a text file's lines (empty when missing).
public func lines(of path: String) -> [String] {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}

/// The names of the work trees git records for the repository at `repository` (its
/// `.git/worktrees/` folders): empty once every added work tree was removed.
public func workTreeRecords(of repository: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: repository + "/.git/worktrees")) ?? []).sorted()
}
