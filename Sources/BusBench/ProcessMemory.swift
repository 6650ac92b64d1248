import Bus

/// Resident memory of one process, from the `VmRSS` and `VmHWM` lines of `/proc/<pid>/status`.
public struct ProcessMemory: Sendable, Equatable {
    /// Resident set size now, in KiB (`VmRSS`).
    public var residentKiB: Int
    /// The largest resident set size the process has had since it started, in KiB (`VmHWM`).
    public var peakKiB: Int

    /// Creates a reading.
    public init(residentKiB: Int, peakKiB: Int) {
        self.residentKiB = residentKiB
        self.peakKiB = peakKiB
    }

    /// Parses the text of `/proc/<pid>/status`; `nil` when either line is missing (a zombie, or a
    /// kernel thread, has none).
    public static func parse(status text: String) -> ProcessMemory? {
        var rss: Int?
        var hwm: Int?
        for line in text.split(separator: "\n") {
            guard line.hasPrefix("VmRSS:") || line.hasPrefix("VmHWM:") else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let value = Int(fields[1]) else { continue }
            let scale = fields.count >= 3 && fields[2].lowercased() == "mb" ? 1024 : 1
            if line.hasPrefix("VmRSS:") { rss = value * scale } else { hwm = value * scale }
        }
        guard let rss, let hwm else { return nil }
        return ProcessMemory(residentKiB: rss, peakKiB: hwm)
    }

    /// Reads `/proc/<pid>/status`; `nil` when the process is gone or the file has no memory lines.
    public static func read(pid: Int32) -> ProcessMemory? {
        guard case .bytes(let bytes) = FileOps.readRegular("/proc/\(pid)/status", limit: 1 << 16) else { return nil }
        return parse(status: String(decoding: bytes, as: UTF8.self))
    }
}

/// Memory of one supervised process (or of the supervisor), idle and under load.
public struct RoleMemory: Sendable, Equatable {
    /// `supervisor`, or the role's name.
    public var role: String
    /// The instance number (0 for the supervisor).
    public var instance: Int
    /// The process read (the last one, should the instance have been restarted).
    public var pid: Int32
    /// Read after the idle period, before the run was submitted.
    public var idle: ProcessMemory?
    /// The largest `VmRSS` sampled while the run went on, in KiB.
    public var loadResidentKiB: Int?
    /// `VmHWM` when the run had finished, before the supervisor was stopped: the process's peak.
    public var loadPeakKiB: Int?

    /// The reading as JSON, in KiB.
    public var json: JSONValue {
        [
            "role": .string(role), "instance": .number(Double(instance)), "pid": .number(Double(pid)),
            "idle_vmrss_kib": idle.map { .number(Double($0.residentKiB)) } ?? .null,
            "idle_vmhwm_kib": idle.map { .number(Double($0.peakKiB)) } ?? .null,
            "load_max_vmrss_kib": loadResidentKiB.map { .number(Double($0)) } ?? .null,
            "load_vmhwm_kib": loadPeakKiB.map { .number(Double($0)) } ?? .null,
        ]
    }
}
