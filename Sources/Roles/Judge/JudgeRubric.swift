import Bus
import Foundation

/// The judge model's answer on a design competition, checked against the candidates:
/// `{winner: <candidate number>, scores: {<candidate>: number}, reasons: [String]}`.
///
/// The winner must be a candidate the verifier approved, and the scores may name only real
/// candidates; any other answer is refused, and the judge keeps the deterministic choice
/// (``CandidateScore/ranked(_:)``).
public struct JudgeRubric: Sendable, Equatable {
    /// The candidate the model picked.
    public var winner: Int
    /// The model's score of each candidate it scored.
    public var scores: [Int: Double]
    /// The model's reasons.
    public var reasons: [String]

    public init(winner: Int, scores: [Int: Double], reasons: [String]) {
        self.winner = winner
        self.scores = scores
        self.reasons = reasons
    }

    /// Reads and checks the model's answer.
    /// - Throws: ``RoleError`` `invalidRequest` saying what is wrong with it.
    public init(json: JSONValue?, candidates: [CandidateScore]) throws(RoleError) {
        guard let object = json?.objectValue else {
            throw RoleError(.invalidRequest, "the answer is not a JSON object")
        }
        let known = Set(candidates.map(\.candidate))
        let approved = Set(candidates.filter { $0.score != nil }.map(\.candidate))
        let approvedText = approved.sorted().map(String.init).joined(separator: ", ")
        guard let winner = Self.number(object["winner"]) else {
            throw RoleError(.invalidRequest, "\"winner\" is missing or not a candidate number")
        }
        guard known.contains(winner) else {
            throw RoleError(
                .invalidRequest, "the winner \(winner) is not a candidate (approved candidates: \(approvedText))")
        }
        guard approved.contains(winner) else {
            throw RoleError(
                .invalidRequest,
                "the winner \(winner) was not approved by the verifier (approved candidates: \(approvedText))")
        }
        guard let given = object["scores"]?.objectValue else {
            throw RoleError(.invalidRequest, "\"scores\" is missing or not an object")
        }
        var scores: [Int: Double] = [:]
        for (key, value) in given {
            guard let candidate = Int(key.trimmingCharacters(in: .whitespaces)), known.contains(candidate) else {
                throw RoleError(.invalidRequest, "scores names \"\(key)\", which is not a candidate")
            }
            guard case .number(let score) = value else {
                throw RoleError(.invalidRequest, "the score of candidate \(candidate) is not a number")
            }
            scores[candidate] = score
        }
        guard let list = object["reasons"]?.arrayValue else {
            throw RoleError(.invalidRequest, "\"reasons\" is missing or not an array")
        }
        let reasons = list.compactMap(\.stringValue)
        guard reasons.count == list.count else { throw RoleError(.invalidRequest, "\"reasons\" holds a non-string") }
        self.init(winner: winner, scores: scores, reasons: reasons)
    }

    /// A candidate number: an integral number, or a string holding one.
    static func number(_ value: JSONValue?) -> Int? {
        if let n = value?.intValue { return n }
        return value?.stringValue.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The JSON form in a judgment's `model`: `winner`, `scores` (by candidate number, as
    /// strings), `reasons`.
    public var json: JSONValue {
        [
            "winner": .number(Double(winner)),
            "scores": .object(Dictionary(uniqueKeysWithValues: scores.map { (String($0.key), .number($0.value)) })),
            "reasons": .array(reasons.map(JSONValue.string)),
        ]
    }
}
