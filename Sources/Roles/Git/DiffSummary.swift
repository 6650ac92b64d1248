import Bus

/// The files a change touches and its size in lines, from `git diff --numstat -z`.
public struct DiffSummary: Sendable, Equatable {
    /// One changed file.
    public struct File: Sendable, Equatable {
        public var path: String
        /// Lines added, or `nil` for a binary file.
        public var added: Int?
        /// Lines deleted, or `nil` for a binary file.
        public var deleted: Int?
    }

    public var files: [File]

    public init(files: [File]) {
        self.files = files
    }

    /// Parses `git diff --numstat -z --no-renames` output: `added\tdeleted\tpath\0` per file
    /// (`-\t-\t` for a binary file).
    public init(numstatZ text: String) {
        var files: [File] = []
        for record in text.split(separator: "\0", omittingEmptySubsequences: true) {
            let parts = record.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            files.append(File(path: String(parts[2]), added: Int(parts[0]), deleted: Int(parts[1])))
        }
        self.files = files
    }

    /// The changed paths, in git's order.
    public var paths: [String] { files.map(\.path) }
    /// Lines added in text files.
    public var insertions: Int { files.reduce(0) { $0 + ($1.added ?? 0) } }
    /// Lines deleted in text files.
    public var deletions: Int { files.reduce(0) { $0 + ($1.deleted ?? 0) } }
    /// Lines changed: insertions plus deletions.
    public var lines: Int { insertions + deletions }

    /// The JSON form carried in envelopes.
    public var json: JSONValue {
        [
            "files": .number(Double(files.count)), "insertions": .number(Double(insertions)),
            "deletions": .number(Double(deletions)), "paths": .array(paths.map(JSONValue.string)),
        ]
    }
}
