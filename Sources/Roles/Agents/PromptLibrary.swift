import Bus
import Foundation

/// The prompt templates: Markdown files with `{{name}}` placeholders, one per kind of call
/// (`builder`, `reviewer`, `judge`, …).
///
/// The templates shipped with planbus live in `Sources/Roles/Prompts/` (copied next to the
/// executable as `planbus_Roles.resources/Prompts`). A repository overrides any of them with a
/// file of the same name in `.planbus/prompts/` (`.planbus/prompts/builder.md`).
public struct PromptLibrary: Sendable {
    /// The repository whose `.planbus/prompts/` overrides the shipped templates.
    public var repository: String?
    /// The folder of the shipped templates.
    public var shipped: String
    /// The `{{intent}}` of every template: what the people who asked for the run answered when
    /// the planner asked them (the run's `INTENT.md`), else "none".
    public var intent: String

    /// - Parameters:
    ///   - repository: the repository whose `.planbus/prompts/` overrides the shipped templates.
    ///   - intent: the run's intent (``intent(run:layout:)``).
    /// - Throws: ``RoleError`` `notFound` when the shipped templates cannot be found.
    public init(repository: String?, intent: String = "none") throws(RoleError) {
        self.repository = repository
        self.intent = intent
        guard let shipped = Self.shippedFolder() else {
            throw RoleError(
                .notFound,
                "the prompt templates shipped with planbus are missing (planbus_Roles.resources/Prompts next to the executable)"
            )
        }
        self.shipped = shipped
    }

    /// The shipped templates' folder: next to the executable, else in the source tree it was
    /// built from.
    static func shippedFolder() -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let candidates = [
            executable.deletingLastPathComponent().path + "/planbus_Roles.resources/Prompts",
            Bundle.main.bundlePath + "/planbus_Roles.resources/Prompts",
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Prompts",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/builder.md") }
    }

    /// The intent of `run`: its `INTENT.md` (the questions the planner asked before planning, and
    /// the answers), else "none".
    public static func intent(run: String, layout: BusLayout) -> String {
        guard let data = FileManager.default.contents(atPath: layout.run(run) + "/INTENT.md") else { return "none" }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "none" : text
    }

    /// The path of template `name`: the repository's override, else the shipped one.
    public func path(of name: String) -> String {
        if let repository {
            let override = repository + "/.planbus/prompts/" + name + ".md"
            if FileManager.default.fileExists(atPath: override) { return override }
        }
        return shipped + "/" + name + ".md"
    }

    /// Renders template `name` with `values` (and ``intent`` as `{{intent}}`, unless `values` has one).
    /// - Throws: ``RoleError`` `notFound` when there is no such template, `invalidRequest` when
    ///   it names a placeholder `values` lacks (with the file and the name).
    public func render(_ name: String, _ values: [String: String]) throws(RoleError) -> String {
        let file = path(of: name)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw RoleError(.notFound, "no prompt template \(name) (\(file))")
        }
        return try Self.render(
            String(decoding: data, as: UTF8.self), values.merging(["intent": intent]) { given, _ in given }, file: file)
    }

    /// Replaces each `{{name}}` of `template` with its value.
    /// - Throws: ``RoleError`` `invalidRequest` for a placeholder without a value.
    public static func render(_ template: String, _ values: [String: String], file: String) throws(RoleError)
        -> String
    {
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let key = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let value = values[key] else {
                let known = values.keys.sorted().joined(separator: ", ")
                throw RoleError(.invalidRequest, "\(file): unknown placeholder {{\(key)}} (known: \(known))")
            }
            out += value
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }
}
