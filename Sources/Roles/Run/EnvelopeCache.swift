import Bus
import Synchronization

/// The envelope files of queue folders this process has read, by path.
///
/// A file in `q/<role>/new/` or `q/<role>/done/` never changes while it is there (PROTOCOL.md:
/// files arrive and leave by rename), so what was read from a path stays true while the path
/// exists; a path that is gone is simply not listed again. The cache only saves reading and
/// parsing: the folder's listing, read every time, still decides what there is.
public final class EnvelopeCache: Sendable {
    private let envelopes = Mutex<[String: Envelope]>([:])

    public init() {}

    /// The envelope at `path`, read with `read` the first time; `nil` when it cannot be read
    /// (not remembered, so it is tried again next time).
    public func envelope(at path: String, read: () -> Envelope?) -> Envelope? {
        if let known = envelopes.withLock({ $0[path] }) { return known }
        guard let envelope = read() else { return nil }
        envelopes.withLock { $0[path] = envelope }
        return envelope
    }
}
