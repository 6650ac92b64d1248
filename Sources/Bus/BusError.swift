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
    /// What is wrong with the bus folder as a whole, when this error says so (set by
    /// ``onBus(_:)``; else read from ``errno``).
    public var busProblem: BusProblem? {
        get { storedProblem ?? errno.flatMap(BusProblem.init(errno:)) }
        set { storedProblem = newValue }
    }
    private var storedProblem: BusProblem?
    /// What a person can do about ``busProblem`` (set by ``onBus(_:)``), ending the description.
    public private(set) var advice: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String {
        let text = errno.map { "\(message): \(String(cString: strerror($0)))" } ?? message
        return advice.map { text + "; " + $0 } ?? text
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension BusError {
    /// This error as one of the bus at `layout`: when it comes from a problem of the whole bus
    /// folder (``BusProblem``: a full or read-only filesystem, or a bus folder that is gone), the
    /// message starts by saying so, naming the folder, e.g. `no space left on the bus's filesystem
    /// (/srv/bus): cannot write /srv/bus/tmp/.pub-…`. Other errors are returned unchanged; so is
    /// one already said of the bus.
    public func onBus(_ layout: BusLayout) -> BusError {
        guard storedProblem == nil, code == .io || code == .notFound else { return self }
        let problem: BusProblem
        if let fromErrno = errno.flatMap(BusProblem.init(errno:)) {
            problem = fromErrno
        } else if errno == ENOENT || code == .notFound, BusProblem.check(layout) == .missing {
            problem = .missing
        } else {
            return self
        }
        var said = BusError(code, problem.headline(root: layout.root) + ": " + message, errno: errno)
        said.storedProblem = problem
        said.advice = problem.advice(root: layout.root)
        return said
    }
}
