import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Paths in configuration and plan files, and reading those files.
public enum FilePaths {
    /// What is at a path.
    public enum Kind: Sendable, Equatable {
        case missing
        case file
        case folder
    }

    /// `path` made absolute against the current directory, without `.` and `..` components.
    public static func absolute(_ path: String) -> String {
        resolve(path, against: FileManager.default.currentDirectoryPath)
    }

    /// `path` resolved against the absolute `folder`, without `.` and `..` components.
    public static func resolve(_ path: String, against folder: String) -> String {
        let joined = path.hasPrefix("/") ? path : folder + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The folder holding the absolute path `file`.
    public static func folder(of file: String) -> String {
        resolve("..", against: absolute(file))
    }

    /// What is at `path`, following symbolic links.
    public static func kind(of path: String) -> Kind {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return .missing }
        return isFolder.boolValue ? .folder : .file
    }

    /// The bytes of `file`.
    /// - Throws: ``FileFormatError`` `notFound` when there is no such file, `io` when it cannot be
    ///   read.
    public static func contents(of file: String) throws(FileFormatError) -> [UInt8] {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw FileFormatError(.notFound, "no file at \(file)") }
            throw FileFormatError(.io, "cannot open \(file)", errno: code)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw FileFormatError(.io, "cannot read \(file)", errno: code)
            }
            bytes += buffer[..<n]
        }
    }
}
