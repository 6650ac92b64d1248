#if canImport(Glibc)
    import Glibc
#endif

/// The one error type of the `BusBench` module.
///
/// A benchmark never fails because of a figure: these errors mean the benchmark itself could not
/// run (a directory could not be made, a consumer process did not start or never became ready, the
/// bus lost an envelope).
public struct BenchError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, broadly.
    public enum Code: String, Sendable {
        /// A file-system call of the benchmark's own failed.
        case io
        /// A helper process could not be started, or did not become ready in time.
        case process
        /// The bus did not end in the expected state (an envelope missing or dead-lettered).
        case unexpectedState
        /// A bad option.
        case invalidArgument
    }

    /// The broad kind of failure.
    public var code: Code
    /// A message naming the path or phase involved.
    public var message: String
    /// The `errno` of a failed system call, when there was one.
    public var errno: Int32?

    /// Creates an error.
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
