import Bus
import FileFormats
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Changes `planbus.yaml` in place, keeping its comments and layout.
///
/// `planbus restart ROLE --agent A --model M` saves its choice with ``setRole(_:agent:model:inFile:)``.
/// The editor works on the text line by line rather than re-writing the YAML, so everything it
/// does not change stays as the user wrote it. The result is read back with
/// ``ConfigLoader/parse(_:file:)`` before it is written, and the file is replaced atomically.
public enum ConfigEditor {
    /// Sets the agent and the model of a role in a configuration file.
    ///
    /// The value of `agent:` or `model:` under `roles:` → `ROLE:` is replaced, keeping the comment
    /// after it. A missing key is inserted with the role's indentation; a missing role is added
    /// at the end of `roles:`. A file without `roles:` runs the five product roles, so the editor
    /// writes those out with their default instance counts before changing the one role; adding
    /// just the one would stop the others.
    ///
    /// - Parameters:
    ///   - role: The role to change.
    ///   - agent: The new agent, or `nil` to leave it.
    ///   - model: The new model, or `nil` to leave it.
    ///   - path: The configuration file.
    /// - Throws: ``LauncherError`` `notFound` when the file does not exist, `invalidArgument` for an
    ///   invalid role name, `invalidConfig` when the changed file would not be valid (the file is
    ///   then left untouched), and `io` when it cannot be read or written.
    public static func setRole(
        _ role: String, agent: String?, model: String?, inFile path: String
    ) throws(LauncherError) {
        do {
            try Limits.checkRole(role, field: "role")
        } catch {
            throw LauncherError(
                .invalidArgument,
                "invalid role name \(QuotedText.quoted(role)) (a lower-case letter, then up to 31 lower-case "
                    + "letters, digits and dashes)")
        }
        guard agent != nil || model != nil else { return }
        let file = try resolvedFile(FilePaths.absolute(path))
        let text = try ConfigLoader.text(of: file)
        var values: [(key: String, value: String)] = []
        if let agent { values.append(("agent", ConfigText.scalar(agent))) }
        if let model { values.append(("model", ConfigText.scalar(model))) }
        var document = ConfigLines(text)
        do {
            try document.set(values, role: role)
        } catch {
            throw LauncherError(error.code, "\(file) left unchanged: \(error.message)")
        }
        let edited = document.text
        let config: PlanbusConfig
        do {
            config = try ConfigLoader.parse(edited, file: file)
        } catch {
            throw LauncherError(
                .invalidConfig, "\(file) left unchanged: the change would make it invalid: \(error.message)")
        }
        guard let saved = config.role(role), agent == nil || saved.agent == agent, model == nil || saved.model == model
        else {
            throw LauncherError(
                .invalidConfig,
                "\(file) left unchanged: its layout is too unusual to change roles.\(role) safely; edit it by hand")
        }
        if edited != text { try replaceFile(file, with: edited) }
    }

    /// `file` with symbolic links resolved, so that replacing it keeps a link in place.
    static func resolvedFile(_ file: String) throws(LauncherError) -> String {
        guard let resolved = realpath(file, nil) else {
            let code = errno
            if code == ENOENT {
                throw LauncherError(.notFound, "no configuration at \(file) (create one with planbus init)")
            }
            throw LauncherError(.io, "cannot find \(file)", errno: code)
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Replaces `file` with `text` atomically: a temporary file in the same folder, with the same
    /// mode, synced to disk and renamed over it.
    static func replaceFile(_ file: String, with text: String) throws(LauncherError) {
        var info = stat()
        guard stat(file, &info) == 0 else { throw LauncherError(.io, "cannot stat \(file)", errno: errno) }
        let mode = info.st_mode & 0o7777
        let folder = FilePaths.folder(of: file)
        let name = file.split(separator: "/").last.map(String.init) ?? "planbus.yaml"
        let temporary = "\(folder)/.\(name).\(getpid()).\(UInt32.random(in: .min ... .max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw LauncherError(.io, "cannot create \(temporary)", errno: errno) }
        var failure: LauncherError?
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count, failure == nil {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno != EINTR { failure = LauncherError(.io, "cannot write \(temporary)", errno: errno) }
            if n > 0 { offset += n }
        }
        if failure == nil, fchmod(fd, mode) != 0 || fsync(fd) != 0 {
            failure = LauncherError(.io, "cannot write \(temporary)", errno: errno)
        }
        close(fd)
        if failure == nil, rename(temporary, file) != 0 {
            failure = LauncherError(.io, "cannot replace \(file)", errno: errno)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }
}

/// The lines of a YAML file, edited as text.
struct ConfigLines {
    /// A `key: value  # comment` line, split into its parts.
    struct KeyLine {
        var indent: Int
        var key: String
        /// Everything up to and including the colon.
        var head: String
        /// The value as written (quotes included), empty when there is none.
        var value: String
        /// What follows the value: spaces and a comment, or nothing.
        var tail: String

        /// The line with `value` in place of the old one.
        func with(_ value: String) -> String {
            value.isEmpty ? head + tail : head + " " + value + tail
        }
    }

    /// The lines, each without its `\n` (a `\r` before it is kept).
    var lines: [String]
    /// Whether the text ended with a newline.
    let endsWithNewline: Bool
    /// `\r` when the file uses CRLF line ends.
    let lineEnd: String

    init(_ text: String) {
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        endsWithNewline = text.unicodeScalars.last == "\n"
        if endsWithNewline { lines.removeLast() }
        if lines.count == 1 && lines[0].isEmpty { lines = [] }
        self.lines = lines
        lineEnd = lines.first?.unicodeScalars.last == "\r" ? "\r" : ""
    }

    var text: String {
        lines.joined(separator: "\n") + (endsWithNewline || !lines.isEmpty ? "\n" : "")
    }

    // MARK: Editing

    /// Sets `key: value` pairs under `roles:` → `role:`, adding what is missing.
    mutating func set(_ values: [(key: String, value: String)], role: String) throws(LauncherError) {
        let unit = indentUnit
        let rolesIndex = try rolesSection(unit: unit)
        let children = contentLines(rolesIndex + 1, sectionEnd(after: rolesIndex, indent: 0))
        let roleIndent = children.first.map { Self.indent(content($0)) } ?? unit
        let roleLine = children.first { Self.indent(content($0)) == roleIndent && key(at: $0)?.key == role }
        guard let roleLine else {
            let keyIndent = keyIndentOfFirstRole(children, roleIndent: roleIndent) ?? roleIndent * 2
            var added = [pad(roleIndent) + role + ":"]
            added += values.map { pad(keyIndent) + $0.key + ": " + $0.value }
            insert(added, at: (children.last ?? rolesIndex) + 1)
            return
        }
        try clearNullOrEmptyMapping(at: roleLine, field: "roles.\(role)")
        for (key, value) in values {
            let keys = contentLines(roleLine + 1, sectionEnd(after: roleLine, indent: roleIndent))
            let keyIndent = keys.first.map { Self.indent(content($0)) } ?? roleIndent * 2
            let own = keys.filter { Self.indent(content($0)) == keyIndent }
            if let index = own.first(where: { self.key(at: $0)?.key == key }), let line = self.key(at: index) {
                replace(index, with: line.with(value))
                continue
            }
            let before = key == "model" ? "agent" : "instances"
            let after = own.first { self.key(at: $0)?.key == before }.map { sectionEnd(after: $0, indent: keyIndent) }
            insert([pad(keyIndent) + key + ": " + value], at: after ?? roleLine + 1)
        }
    }

    /// The index of the top-level `roles:` line, after adding it (with the product roles) when it
    /// is missing, or adding the product roles under it when it is empty.
    mutating func rolesSection(unit: Int) throws(LauncherError) -> Int {
        let products = RoleConfig.productDefaults.flatMap {
            [pad(unit) + $0.name + ":", pad(unit * 2) + "instances: \($0.instances)"]
        }
        guard let index = lines.indices.first(where: { Self.indent(content($0)) == 0 && key(at: $0)?.key == "roles" })
        else {
            while let last = lines.last, last.unicodeScalars.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
                lines.removeLast()
            }
            insert((lines.isEmpty ? [] : [""]) + ["roles:"] + products, at: lines.count)
            return lines.count - products.count - 1
        }
        let value = key(at: index)?.value ?? ""
        let isNull = ["", "~", "null", "Null", "NULL"].contains(value)
        try clearNullOrEmptyMapping(at: index, field: "roles")
        if isNull && contentLines(index + 1, sectionEnd(after: index, indent: 0)).isEmpty {
            insert(products, at: index + 1)
        }
        return index
    }

    /// Turns `key: null` or `key: {}` into `key:` so that lines can be added under it.
    mutating func clearNullOrEmptyMapping(at index: Int, field: String) throws(LauncherError) {
        guard let line = key(at: index) else { return }
        switch line.value {
        case "": return
        case "~", "null", "Null", "NULL", "{}": replace(index, with: line.with(""))
        default:
            throw LauncherError(
                .invalidConfig,
                "\(field) is written on one line as \(line.value); write it as an indented block to let planbus edit it"
            )
        }
    }

    mutating func insert(_ new: [String], at index: Int) {
        lines.insert(contentsOf: new.map { $0 + lineEnd }, at: index)
    }

    mutating func replace(_ index: Int, with text: String) {
        lines[index] = text + (lines[index].unicodeScalars.last == "\r" ? "\r" : "")
    }

    // MARK: Reading

    /// The line at `index` without a trailing `\r`.
    func content(_ index: Int) -> String {
        let line = lines[index]
        return line.unicodeScalars.last == "\r" ? String(line.unicodeScalars.dropLast()) : line
    }

    /// Whether the line holds YAML content (not blank, not only a comment).
    func isContent(_ index: Int) -> Bool {
        let trimmed = content(index).drop { $0 == " " || $0 == "\t" }
        return !trimmed.isEmpty && !trimmed.hasPrefix("#")
    }

    /// The indices of content lines in `start..<end`.
    func contentLines(_ start: Int, _ end: Int) -> [Int] {
        start < end ? (start..<end).filter(isContent) : []
    }

    /// The index after the last line that belongs under the line at `index`: the next content line
    /// indented `indent` or less ends the block. Comment lines at the block's end stay outside it.
    func sectionEnd(after index: Int, indent: Int) -> Int {
        var last = index
        for i in (index + 1)..<lines.count where isContent(i) {
            if Self.indent(content(i)) <= indent || content(i).hasPrefix("---") || content(i).hasPrefix("...") { break }
            last = i
        }
        return last + 1
    }

    /// The indentation of the keys under the first role, if it has any.
    func keyIndentOfFirstRole(_ children: [Int], roleIndent: Int) -> Int? {
        guard children.count > 1 else { return nil }
        let indent = Self.indent(content(children[1]))
        return indent > roleIndent ? indent : nil
    }

    /// The indentation step of the file: that of its first indented content line, else 2.
    var indentUnit: Int {
        let indented = lines.indices.lazy.filter(isContent).map { Self.indent(content($0)) }.first { $0 > 0 }
        return indented ?? 2
    }

    func pad(_ count: Int) -> String { String(repeating: " ", count: count) }

    static func indent(_ line: String) -> Int { line.prefix { $0 == " " }.count }

    /// The line at `index` read as `key: value  # comment`, or `nil` when it is not one.
    func key(at index: Int) -> KeyLine? {
        let c = Array(content(index).unicodeScalars)
        var i = 0
        while i < c.count && c[i] == " " { i += 1 }
        let indent = i
        guard i < c.count, c[i] != "#", !(c[i] == "-" && (i + 1 == c.count || c[i + 1] == " ")) else { return nil }
        let key: String
        var j: Int
        if c[i] == "\"" || c[i] == "'" {
            j = i + 1
            while j < c.count && c[j] != c[i] { j += c[j] == "\\" && c[i] == "\"" ? 2 : 1 }
            guard j + 1 < c.count, c[j + 1] == ":" else { return nil }
            key = Self.string(c[(i + 1)..<j])
            j += 1
        } else {
            j = i
            while j < c.count && !(c[j] == ":" && (j + 1 == c.count || c[j + 1] == " " || c[j + 1] == "\t")) {
                if c[j] == "#" && j > i && c[j - 1] == " " { return nil }
                j += 1
            }
            guard j < c.count else { return nil }
            key = Self.string(c[i..<j]).trimmingCharacters(in: .whitespaces)
        }
        let head = Self.string(c[0...j])
        var k = j + 1
        while k < c.count && (c[k] == " " || c[k] == "\t") { k += 1 }
        var valueEnd = k
        if k < c.count && (c[k] == "\"" || c[k] == "'") {
            valueEnd = k + 1
            while valueEnd < c.count && c[valueEnd] != c[k] {
                valueEnd += c[valueEnd] == "\\" && c[k] == "\"" ? 2 : 1
            }
            valueEnd = min(valueEnd + 1, c.count)
        } else {
            while valueEnd < c.count && !(c[valueEnd] == "#" && c[valueEnd - 1] == " ") { valueEnd += 1 }
            while valueEnd > k && (c[valueEnd - 1] == " " || c[valueEnd - 1] == "\t") { valueEnd -= 1 }
        }
        let value = Self.string(c[k..<valueEnd])
        let tail = Self.string(c[(value.isEmpty ? j + 1 : valueEnd)...])
        return KeyLine(indent: indent, key: key, head: head, value: value, tail: tail)
    }

    static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }
}
