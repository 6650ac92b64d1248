import Bus

extension HumanRequest {
    /// The request as `planbus questions --json` lists it: `id`, `kind`, `run`, `task`, `attempt`,
    /// `from` (the asking worker), `asked_by` (its role), `created`, `age_ms`, `state` (`pending`,
    /// or `claimed` while a reply is being made, with `holder`), `reply_to`, the kind's own fields,
    /// and the whole `body`.
    public func json(now: Timestamp) -> JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        var o: [String: JSONValue] = [
            "id": .string(id), "kind": .string(kind), "run": .string(envelope.run), "task": opt(envelope.task),
            "attempt": .number(Double(envelope.attempt)), "from": .string(envelope.from.description),
            "asked_by": .string(envelope.from.role), "created": .string(envelope.created.description),
            "age_ms": .number(Double(ageMs(now: now))), "state": .string(holder == nil ? "pending" : "claimed"),
            "holder": opt(holder?.description), "reply_to": .string(replyTo), "body": .object(envelope.body),
        ]
        if isQuestion {
            o["question"] = opt(question)
            o["topic"] = opt(topic)
            o["options"] = .array(options.map(JSONValue.string))
            o["recommendation"] = opt(recommendation)
        }
        if isApproval {
            o["title"] = opt(title)
            o["candidate"] = candidate.map { .number(Double($0)) } ?? .null
            o["commit"] = opt(commit)
            o["branch"] = opt(branch)
            let gates = self.gates
            o["gates_passed"] = .number(Double(gates.filter(\.passed).count))
            o["gates_total"] = .number(Double(gates.count))
        }
        return .object(o)
    }

    /// One header line: id, kind, where it belongs, who asked and how long ago.
    public func headline(now: Timestamp) -> String {
        var parts = ["run \(envelope.run)"]
        if let task = envelope.task { parts.append("task \(task)") }
        parts.append("attempt \(envelope.attempt)")
        parts.append("from \(envelope.from.role)")
        parts.append(Self.age(ageMs(now: now)) + " ago")
        var line = "\(id)  \(kind)  " + parts.joined(separator: " · ")
        if let holder { line += "  (being answered by \(holder))" }
        return line
    }

    /// The request as `planbus questions` prints it: the headline, then indented lines with the
    /// question and its options, or the approval's title, commit, diff and gates, then the
    /// command that replies.
    public func lines(now: Timestamp) -> [String] {
        var out = [headline(now: now)]
        if isApproval {
            var head = "  " + (title ?? summary ?? "approve this task")
            var facts: [String] = []
            if let candidate { facts.append("candidate \(candidate)") }
            if let commit { facts.append("commit \(commit.prefix(12))") }
            if let branch { facts.append("on \(branch)") }
            if !facts.isEmpty { head += "  (" + facts.joined(separator: ", ") + ")" }
            out.append(head)
            if let diff {
                var line =
                    "  diff: \(diff.files) file\(diff.files == 1 ? "" : "s"), +\(diff.insertions) -\(diff.deletions)"
                if !diff.paths.isEmpty {
                    line += ": " + diff.paths.prefix(5).joined(separator: ", ")
                    if diff.paths.count > 5 { line += ", … (\(diff.paths.count - 5) more)" }
                }
                out.append(line)
            }
            let gates = self.gates
            if !gates.isEmpty {
                let failed = gates.filter { !$0.passed }.map(\.name)
                var line = "  gates: \(gates.count - failed.count)/\(gates.count) passed"
                if !failed.isEmpty { line += "; failed: " + failed.joined(separator: ", ") }
                out.append(line)
            }
            if let evidence { out.append("  evidence: \(evidence)") }
            let target = "\(envelope.run) \(envelope.task ?? "TASK")"
            out.append("  → planbus approve \(target)   or   planbus reject \(target) --reason TEXT")
        } else {
            if let topic { out.append("  topic: \(topic)") }
            let text = question ?? summary ?? JSONValue.object(envelope.body).serialized()
            out += text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
            for (index, option) in options.enumerated() { out.append("    \(index + 1)) \(option)") }
            if let recommendation { out.append("  recommended: \(recommendation)") }
            out.append("  → planbus answer \(id) TEXT")
        }
        return out
    }

    /// A short age: `12s`, `4m`, `3h`, `2d`.
    static func age(_ ms: Int64) -> String {
        let seconds = ms / 1_000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3_600 { return "\(seconds / 60)m" }
        if seconds < 86_400 { return "\(seconds / 3_600)h" }
        return "\(seconds / 86_400)d"
    }
}
