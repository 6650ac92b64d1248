#if canImport(Glibc)
    import Glibc
#endif

/// The one error type of the `Processes` module.
public struct ProcessError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, broadly.
    public enum Code: String, Sendable {
        /// The program could not be started (not found, not executable, fork failed).
        case spawnFailed
        /// A caller passed a value that cannot work, such as an empty command.
        case invalidArgument
    }

    public var code: Code
    public var message: String
    /// The errno of the failed system call, if one failed.
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
