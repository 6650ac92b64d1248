/// The one error type of the `Bus` module.
///
/// Each error has a ``Code`` that scripts and callers can switch on, a human-readable message that
/// names the file or field involved, and, where a system call failed, its `errno`.
public struct BusError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong, broadly.
    public enum Code: String, Sendable, Equatable {
        /// An envelope or a field in it breaks the protocol (bad JSON, wrong version, a limit).
        case invalidEnvelope
        /// The bus directory is missing, has another layout, or another protocol version.
        case invalidBus
        /// A claim is no longer held: it was taken over, acked or released by someone else.
        case fenced
        /// A system call failed.
        case io
        /// A bad argument from the caller.
        case invalidArgument
        /// Nothing was found under that name.
        case notFound
    }

    /// The broad kind of failure.
    public var code: Code
    /// A message naming the path or field involved.
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

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
