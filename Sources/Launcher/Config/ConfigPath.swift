import Bus
import Foundation
import Roles
import Yams

#if canImport(Glibc)
    import Glibc
#endif

/// Paths in `planbus.yaml`, and reading the file.
enum ConfigPath {
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

    /// The bytes of `file`.
    /// - Throws: ``LauncherError`` `notFound` when there is no such file, `io` when it cannot be read.
    static func contents(of file: String) throws(LauncherError) -> [UInt8] {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw LauncherError(.notFound, "no configuration at \(file) (create one with planbus init)")
            }
            throw LauncherError(.io, "cannot open \(file)", errno: code)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                if errno == EINTR { continue }
                throw LauncherError(.io, "cannot read \(file)", errno: errno)
            }
            bytes += buffer[..<n]
        }
    }
}
