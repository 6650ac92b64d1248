import Bus
import FileFormats

#if canImport(Glibc)
    import Glibc
#endif

/// A backlog folder on disk: plan files waiting directly in it, and the folders they move to.
///
/// ```
/// DIR/<name>.yaml                  waiting (also .yml); dotfiles and other names are not plans
/// DIR/.taking/<ms>-<name>          taken at <ms> (Unix milliseconds), being submitted
/// DIR/submitted/<run>.<name>       submitted as run <run>
/// DIR/refused/<name>               refused, with DIR/refused/<name>.error saying why
/// ```
///
/// Taking is a `rename(2)` into `.taking/`, so of several processes scanning the folder exactly
/// one takes each file; the time in the taken name makes the submission's ids the same however
/// often it is retried.
public struct BacklogFolder: Sendable, Equatable {
    /// A waiting plan file and what it looked like when listed.
    struct Arrival: Sendable, Equatable {
        var name: String
        var size: Int64
        /// The modification time, in nanoseconds since the Unix epoch.
        var modified: Int64
        var inode: UInt64
    }

    /// The folder, absolute.
    public let path: String

    /// A backlog at `path` (made absolute against the current directory).
    public init(path: String) {
        self.path = FilePaths.absolute(path)
    }

    /// Where taken files wait while they are submitted.
    public var taking: String { path + "/.taking" }
    /// Where submitted plan files end up.
    public var submitted: String { path + "/submitted" }
    /// Where refused plan files end up, each with a `.error` file beside it.
    public var refused: String { path + "/refused" }

    /// Creates the folder (which may be a symbolic link to one) and its `.taking`, `submitted` and
    /// `refused` folders when missing.
    /// - Throws: ``RoleError`` `io` when one cannot be made (or is not a folder).
    public func prepare() throws(RoleError) {
        let linked = FilePaths.kind(of: path) == .folder
        for folder in linked ? [taking, submitted, refused] : [path, taking, submitted, refused] {
            do {
                try FileOps.makeDirectories(folder, mode: 0o755)
            } catch {
                throw RoleError(.io, "backlog \(path): \(error.description)")
            }
        }
    }

    /// Whether a name in the folder is a plan to take: `*.yaml` or `*.yml`, not a dotfile.
    static func isPlanName(_ name: String) -> Bool {
        guard !name.hasPrefix(".") else { return false }
        return (name.hasSuffix(".yaml") && name.count > 5) || (name.hasSuffix(".yml") && name.count > 4)
    }

    /// The regular files with plan names directly in the folder (symbolic links are not taken).
    /// - Throws: ``RoleError`` `io` when the folder cannot be listed.
    func arrivals() throws(RoleError) -> [Arrival] {
        let names: [String]
        do {
            names = try FileOps.list(path)
        } catch {
            throw RoleError(.io, "backlog \(path): \(error.description)")
        }
        var found: [Arrival] = []
        for name in names.sorted() where Self.isPlanName(name) {
            var st = stat()
            guard lstat(path + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            found.append(Arrival(name: name, size: Int64(st.st_size), modified: modified, inode: UInt64(st.st_ino)))
        }
        return found
    }

    /// Takes the waiting file `name` at `time`: renames it into `.taking/`.
    /// - Parameter durable: fsync both folders, so that once the goal is sent the file cannot
    ///   reappear as waiting after a power loss (to be taken again, as another run).
    /// - Returns: The ticket, or `nil` when the file is gone (another process took it).
    /// - Throws: ``RoleError`` `io` when the rename fails otherwise.
    func take(_ name: String, at time: Timestamp, durable: Bool) throws(RoleError) -> BacklogTicket? {
        let ticket = BacklogTicket(name: name, takenAt: time)
        do {
            guard try FileOps.moveIfPresent(path + "/" + name, to: taking + "/" + ticket.fileName) else { return nil }
            if durable {
                try FileOps.syncDirectory(taking)
                try FileOps.syncDirectory(path)
            }
        } catch {
            throw RoleError(.io, "backlog \(path): cannot take \(name): \(error.description)")
        }
        return ticket
    }

    /// The files in `.taking/` left by a process that stopped before it finished them.
    /// - Throws: ``RoleError`` `io` when `.taking/` cannot be listed.
    func leftovers() throws(RoleError) -> [BacklogTicket] {
        do {
            return try FileOps.list(taking).sorted().compactMap(BacklogTicket.init(fileName:))
        } catch {
            throw RoleError(.io, "backlog \(path): \(error.description)")
        }
    }
}
