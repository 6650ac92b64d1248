#if canImport(Glibc)
    import Glibc
#endif

/// The one error type of the `FileFormats` module.
public struct FileFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, broadly.
    public enum Code: String, Sendable, Equatable {
        /// A value is not in the expected form; the message starts lower-case and names no place.
        case invalidValue
        /// There is no file at the path.
        case notFound
        /// The file could not be read.
        case io
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
