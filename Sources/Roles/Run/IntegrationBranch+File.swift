import Foundation
import Processes

#if canImport(Glibc)
    import Glibc
#endif

extension IntegrationBranch {
    /// The largest file ``commitFile(_:message:edit:)`` edits.
    public static let fileLimit = 64 << 20

    /// Commits a new version of one file on the branch.
    ///
    /// Two git processes: `git cat-file --batch` reads the head and the file, and one
    /// `git fast-import` writes the file's blob and the commit (parent: the head read) and moves
    /// the branch (``apply(_:what:)``); if another role moved the branch meanwhile, the edit is
    /// made again on the new head.
    ///
    /// - Parameters:
    ///   - path: The file, relative to the repository.
    ///   - message: The commit message.
    ///   - edit: Given the file's text at the head (or `nil` when it does not exist), its new text,
    ///     or `nil` to leave the branch as it is.
    /// - Returns: the new commit, or `nil` when `edit` changed nothing.
    /// - Throws: ``RoleError`` `invalidRequest` for a path that is not a relative file path of the
    ///   repository (``isFilePath(_:)``) or names something other than a file at the head;
    ///   `git` when git fails, the file is larger than ``fileLimit``, or the branch kept moving.
    public func commitFile(
        _ path: String, message: String, edit: (String?) -> String?
    ) async throws(RoleError) -> String? {
        guard Self.isFilePath(path) else {
            throw RoleError(.invalidRequest, "\"\(path)\" cannot be committed as a file of the repository")
        }
        for _ in 1...Self.rounds {
            // nil: the branch moved; .some(nil): nothing to change.
            let made = try await IntegrationTurn.taking(repository: git.directory) {
                () async throws(RoleError) -> String?? in
                let (head, old) = try await headAndFile(path)
                guard let text = edit(old) else { return .some(nil) }
                let stream =
                    "blob\nmark :1\n" + Self.data(text) + "commit refs/heads/\(name)\nmark :2\n"
                    + "committer \(Self.signature(git.identity))\n" + Self.data(message) + "from \(head)\n"
                    + "M 100644 :1 \(path)\nget-mark :2\n"
                return try await apply(stream, what: "the commit of \(path)").map { .some($0) }
            }
            if let made { return made }
        }
        throw RoleError(.git, "the integration branch \(name) kept moving; could not commit \(path)")
    }

    /// True for a path fast-import may be given as a file of the repository: relative, with no
    /// empty, `.`, `..` or `.git` part (git refuses these in a tree, and fast-import would stop on
    /// some of them and leave a crash report in the repository), no control character (fast-import
    /// reads the path as the rest of its line), and not starting with a double quote (which would
    /// make fast-import read a C-quoted path).
    static func isFilePath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("\""),
            !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part != "." && part != ".." && part.lowercased() != ".git"
        }
    }

    /// The branch's head, and the text of `path` there (`nil` when it has no such path), read with
    /// one `git cat-file --batch`.
    ///
    /// The ref is resolved twice (for the head, then for the file): if the branch moves in
    /// between, the text is that of a later head, and the commit made on the head read is refused
    /// as the branch moved, then made again.
    func headAndFile(_ path: String) async throws(RoleError) -> (head: String, text: String?) {
        let ref = "refs/heads/" + name
        let read = try await git.attempt(
            ["cat-file", "--batch"], input: "\(ref)\n\(ref):\(path)\n", outputLimit: Self.fileLimit + 4096)
        guard read.succeeded else {
            throw RoleError(.git, "git cat-file of \(name) failed: \(read.stderr.prefix(300))")
        }
        var reader = BatchReader(bytes: read.output)
        guard let commit = reader.next(), commit.type == "commit" else {
            throw RoleError(.git, "the integration branch \(name) does not exist")
        }
        guard let file = reader.next() else {
            throw RoleError(
                .git, "git cat-file printed nothing for \(path) on \(name) (larger than \(Self.fileLimit)?)")
        }
        switch file.type {
        case "blob": return (commit.name, String(decoding: file.content, as: UTF8.self))
        case "missing": return (commit.name, nil)
        default: throw RoleError(.invalidRequest, "\(path) on \(name) is a \(file.type), not a file")
        }
    }
}

/// Reads `git cat-file --batch` output: `<name> <type> <size>\n<content>\n` per object, or
/// `<query> missing\n`.
struct BatchReader {
    let bytes: [UInt8]
    var position = 0

    /// The next object: its name, its type (`missing` for a query that names nothing), and its
    /// content; `nil` at the end or when the output was cut short.
    mutating func next() -> (name: String, type: String, content: ArraySlice<UInt8>)? {
        guard position < bytes.count, let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            return nil
        }
        let header = String(decoding: bytes[position..<newline], as: UTF8.self).split(separator: " ")
        position = newline + 1
        if header.last == "missing" { return ("", "missing", []) }
        guard header.count == 3, let size = Int(header[2]), size >= 0, position + size <= bytes.count else {
            return nil
        }
        let content = bytes[position..<(position + size)]
        position += size + 1
        return (String(header[0]), String(header[1]), content)
    }
}
