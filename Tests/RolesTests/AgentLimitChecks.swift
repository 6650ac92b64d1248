import Bus
import Foundation
import Roles
import Testing

/// The check the text-reading CLI adapter suites make on a usage limit named in another time
/// zone: the fixtures say "resets 1pm (Europe/Lisbon)".
enum AgentLimitChecks {
    /// Expects `result` to be a rate limit resetting at the next 13:00 in Europe/Lisbon, within a
    /// day from now.
    static func resetsAtOnePMInLisbon(_ result: AgentResult, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard case .rateLimited(let until, _) = result.outcome, let until else {
            Issue.record(
                "expected a rate limit with a reset time, got \(result.outcome)", sourceLocation: sourceLocation)
            return
        }
        var lisbon = Calendar(identifier: .gregorian)
        lisbon.timeZone = try #require(TimeZone(identifier: "Europe/Lisbon"), sourceLocation: sourceLocation)
        let reset = Date(timeIntervalSince1970: Double(until.milliseconds) / 1000)
        #expect(
            lisbon.component(.hour, from: reset) == 13 && lisbon.component(.minute, from: reset) == 0,
            sourceLocation: sourceLocation)
        #expect(reset > Date() && reset.timeIntervalSinceNow <= 24 * 3600, sourceLocation: sourceLocation)
    }
}
