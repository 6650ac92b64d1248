import Bus
import Foundation
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

    /// The envelopes in `folder`, each file read and parsed the first time it is listed; a file
    /// that cannot be read or parsed is left out (and tried again next time).
    public func envelopes(in folder: String) -> [Envelope] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { name in
            let path = folder + "/" + name
            if let known = envelopes.withLock({ $0[path] }) { return known }
            guard let data = FileManager.default.contents(atPath: path),
                let envelope = try? Envelope(decoding: Array(data))
            else { return nil }
            envelopes.withLock { $0[path] = envelope }
            return envelope
        }
    }
}
