#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading a text document a person wrote (a plan), refusing what is not one with a clear reason.
///
/// The file is opened without blocking (a FIFO never stalls the reader) and checked before it is
/// read: it must be a regular file of at most the given size, and its bytes must be UTF-8, else the
/// error names the line and column of the first byte that is not.
public enum TextFile {
    /// The text of `file`.
    ///
    /// - Parameters:
    ///   - file: An absolute path.
    ///   - limit: The largest size accepted, in bytes.
    /// - Returns: The text.
    /// - Throws: ``FileFormatError`` `notFound` when there is nothing at `file`, `invalidValue` when
    ///   it is a folder or another kind of file, larger than `limit`, or not UTF-8 (the message
    ///   starts with `FILE:` or `FILE:LINE:COLUMN:`), `io` when it cannot be read.
    public static func read(_ file: String, limit: Int) throws(FileFormatError) -> String {
        let fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw FileFormatError(.notFound, "no file at \(file)") }
            throw FileFormatError(.io, "cannot open \(file)", errno: code)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileFormatError(.io, "cannot read \(file)", errno: errno) }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            let kind = type == S_IFDIR ? "a folder" : type == S_IFIFO ? "a FIFO" : "a special file"
            throw FileFormatError(.invalidValue, "\(file): is \(kind), not a file; give the path of a YAML file")
        }
        if st.st_size > limit {
            throw FileFormatError(
                .invalidValue, "\(file): the file is \(st.st_size) bytes, over the limit of \(limit) bytes")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw FileFormatError(.io, "cannot read \(file)", errno: code)
            }
            bytes += buffer[..<n]
            if bytes.count > limit {
                throw FileFormatError(.invalidValue, "\(file): the file is over the limit of \(limit) bytes")
            }
        }
        return try decode(bytes, file: file)
    }

    /// `bytes` as UTF-8 text.
    /// - Throws: ``FileFormatError`` `invalidValue`, `FILE:LINE:COLUMN: not UTF-8 text: …`, placed
    ///   at the first byte that is not UTF-8 (the column counts characters, from 1).
    public static func decode(_ bytes: [UInt8], file: String) throws(FileFormatError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let bad = firstInvalidByte(bytes)
        var line = 1
        var lineStart = 0
        for (i, b) in bytes[..<bad].enumerated() where b == 0x0A {
            line += 1
            lineStart = i + 1
        }
        // Every byte before `bad` is valid UTF-8: count the characters (scalars) of the line so far.
        let column = String(decoding: bytes[lineStart..<bad], as: UTF8.self).unicodeScalars.count + 1
        let hex = String(bytes[bad], radix: 16, uppercase: true)
        throw FileFormatError(
            .invalidValue,
            "\(file):\(line):\(column): not UTF-8 text: byte 0x\(hex.count == 1 ? "0" : "")\(hex) (at byte \(bad)) "
                + "is not part of a UTF-8 character; save the file as UTF-8")
    }

    /// The offset of the first byte that does not belong to a valid UTF-8 sequence.
    static func firstInvalidByte(_ bytes: [UInt8]) -> Int {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length: Int
            switch b {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return i
            }
            guard i + length <= bytes.count,
                String(validating: bytes[i..<(i + length)], as: UTF8.self) != nil
            else { return i }
            i += length
        }
        return bytes.count
    }
}
