#if canImport(Glibc)
    import Glibc
#endif

/// The one error type of the `Launcher` module.
public struct LauncherError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, broadly.
    public enum Code: String, Sendable {
        /// A caller passed a value that cannot work.
        case invalidArgument
        /// `planbus.yaml` is malformed; the message names the file, line and field.
        case invalidConfig
        /// A file, role, instance or supervisor asked for does not exist.
        case notFound
        /// Another supervisor already runs for this bus on this host.
        case conflict
        /// A file could not be read or written.
        case io
    }

    public var code: Code
    public var message: String
    public var errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String {
        if let errno { return "\(message): \(String(cString: strerror(errno)))" }
        return message
    }
}
