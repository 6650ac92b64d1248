import Bus

/// The outcome of one `planbus doctor` check: what was found and, when something is wrong, how
/// to fix it.
///
/// A check is a value: ``Doctor`` produces them, and `planbus doctor` prints them as text or as
/// JSON (``json``).
public struct DoctorCheck: Sendable, Equatable {
    /// How serious what a check found is.
    public enum Status: String, Sendable, Equatable, Comparable, CaseIterable {
        /// Nothing to do.
        case ok
        /// planbus works, but worse than it could (slower wake-ups, misleading ages, little room).
        case warning
        /// Something planbus needs is missing or broken.
        case failure

        public static func < (a: Status, b: Status) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// What was checked, such as `inotify` or `clock skew`.
    public var name: String
    /// How serious the finding is.
    public var status: Status
    /// What was found, with the numbers, paths and versions involved.
    public var detail: String
    /// A concrete command or step that fixes the problem (one per line), or `nil` when the check
    /// is ok.
    public var fix: String?

    /// Creates a check result.
    ///
    /// - Parameters:
    ///   - name: What was checked.
    ///   - status: How serious the finding is.
    ///   - detail: What was found.
    ///   - fix: How to fix it; ignored (stored as `nil`) when `status` is ``Status/ok``.
    public init(name: String, status: Status, detail: String, fix: String? = nil) {
        self.name = name
        self.status = status
        self.detail = detail
        self.fix = status == .ok ? nil : fix
    }

    /// An ok result.
    public static func ok(_ name: String, _ detail: String) -> DoctorCheck {
        DoctorCheck(name: name, status: .ok, detail: detail)
    }

    /// A warning with its fix.
    public static func warning(_ name: String, _ detail: String, fix: String) -> DoctorCheck {
        DoctorCheck(name: name, status: .warning, detail: detail, fix: fix)
    }

    /// A failure with its fix.
    public static func failure(_ name: String, _ detail: String, fix: String) -> DoctorCheck {
        DoctorCheck(name: name, status: .failure, detail: detail, fix: fix)
    }

    /// The JSON form used by `planbus doctor --json`:
    /// `{"name": …, "status": "ok" | "warning" | "failure", "detail": …, "fix": … | null}`.
    public var json: JSONValue {
        .object([
            "name": .string(name), "status": .string(status.rawValue), "detail": .string(detail),
            "fix": fix.map(JSONValue.string) ?? .null,
        ])
    }
}
