import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Paths in plan files, and reading them.
enum PlanPath {
    /// What is at a path.
    enum Kind: Equatable {
        case missing
        case file
        case folder
    }

    /// `path` made absolute against the current directory, without `.` and `..` components.
    static func absolute(_ path: String) -> String {
        resolve(path, against: FileManager.default.currentDirectoryPath)
    }

    /// `path` resolved against the absolute `folder`, without `.` and `..` components.
    static func resolve(_ path: String, against folder: String) -> String {
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
    static func folder(of file: String) -> String {
        resolve("..", against: absolute(file))
    }

    /// What is at `path`, following symbolic links.
    static func kind(of path: String) -> Kind {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return .missing }
        return isFolder.boolValue ? .folder : .file
    }

    /// The bytes of `file`.
    /// - Throws: ``RoleError`` `notFound` when there is no such file, `io` when it cannot be read.
    static func contents(of file: String) throws(RoleError) -> [UInt8] {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw RoleError(.notFound, "no plan file at \(file)") }
            throw RoleError(.io, "cannot open \(file): \(String(cString: strerror(code)))")
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
                throw RoleError(.io, "cannot read \(file): \(String(cString: strerror(code)))")
            }
            bytes += buffer[..<n]
        }
    }
}
