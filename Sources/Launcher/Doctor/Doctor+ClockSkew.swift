import Bus
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Doctor {
    // MARK: Clock skew

    /// One reading of another host's clock, from one of its heartbeats.
    struct SkewSample {
        var host: String
        /// The heartbeat's `updated` minus this machine's now, in milliseconds.
        var skewMs: Int64
        /// How much of a negative skew the heartbeat's age may account for.
        var noiseMs: Int64
        /// The part of the skew the heartbeat's age cannot account for.
        var unexplainedMs: Int64 { skewMs >= 0 ? skewMs : max(0, -skewMs - noiseMs) }
    }

    /// Estimates other hosts' clock skew from their heartbeats (`updated` minus this machine's now).
    ///
    /// A heartbeat is rewritten every `heartbeat_ms`, so it may be that old: a negative skew within
    /// `heartbeat_ms` is noise. An older one is either a slow clock or a worker that is gone; the
    /// doctor watches it for up to ``heartbeatWait`` and measures again when it is rewritten.
    package func clockSkew(bus: String, settings: BusSettings) async -> DoctorCheck {
        let noise = Int64(settings.heartbeatMs)
        var samples: [SkewSample] = []
        var pending: [String: Heartbeat] = [:]
        for (path, beat) in remoteHeartbeats(BusLayout(root: bus)) {
            let skew = beat.updated.milliseconds - now().milliseconds
            if skew < -noise {
                pending[path] = beat
            } else {
                samples.append(SkewSample(host: beat.worker.host, skewMs: skew, noiseMs: noise))
            }
        }
        let interval = Duration.milliseconds(50)
        let deadline = ContinuousClock.now + min(heartbeatWait, .milliseconds(settings.heartbeatMs + 500))
        while !pending.isEmpty && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: interval)
            for (path, old) in pending {
                guard let beat = Heartbeat.read(path: path), beat.seq != old.seq else { continue }
                let skew = beat.updated.milliseconds - now().milliseconds
                samples.append(
                    SkewSample(host: beat.worker.host, skewMs: skew, noiseMs: Int64(2 * interval.milliseconds)))
                pending[path] = nil
            }
        }
        return Self.skewCheck(samples, silent: pending.values.map(\.worker.host), settings: settings)
    }

    /// The heartbeats of other hosts' workers that have not stopped, with their paths.
    func remoteHeartbeats(_ layout: BusLayout) -> [(String, Heartbeat)] {
        var beats: [(String, Heartbeat)] = []
        for role in ((try? FileOps.list(layout.heartbeats)) ?? []).sorted() {
            let folder = layout.heartbeats(role)
            for name in ((try? FileOps.list(folder)) ?? []).sorted() where name.hasSuffix(".json") {
                guard let beat = Heartbeat.read(path: folder + "/" + name), beat.worker.host != hostName,
                    beat.state != .stopped
                else { continue }
                beats.append((folder + "/" + name, beat))
            }
        }
        return beats
    }

    /// Judges skew samples, host by host: a warning above 1 s, a failure above half the lease.
    static func skewCheck(_ samples: [SkewSample], silent: [String], settings: BusSettings) -> DoctorCheck {
        let name = "clock skew"
        let hosts = Set(silent).sorted().joined(separator: ", ")
        let gone =
            silent.isEmpty
            ? nil
            : (silent.count == 1 ? "1 heartbeat from \(hosts) was" : "\(silent.count) heartbeats from \(hosts) were")
                + " not rewritten while the doctor waited: the workers seem gone (see planbus ps), so this tells "
                + "nothing about clocks"
        guard !samples.isEmpty else { return .ok(name, gone ?? "no heartbeats from other hosts") }
        let failAbove = Int64(settings.leaseMs / 2)
        var parts: [String] = []
        var offenders: [String] = []
        var status = DoctorCheck.Status.ok
        for (host, readings) in Dictionary(grouping: samples, by: \.host).sorted(by: { $0.key < $1.key }) {
            let worst = readings.max { ($0.unexplainedMs, abs($0.skewMs)) < ($1.unexplainedMs, abs($1.skewMs)) }!
            let measured = (worst.skewMs >= 0 ? "+" : "-") + seconds(abs(worst.skewMs))
            guard worst.unexplainedMs > 0 else {
                parts.append("\(host) \(measured), within the \(seconds(worst.noiseMs)) heartbeat interval: noise")
                continue
            }
            let side = worst.skewMs > 0 ? "ahead of" : "behind"
            parts.append("\(host) \(measured) (its clock is \(side) this one's)")
            let hostStatus: DoctorCheck.Status =
                worst.unexplainedMs > failAbove ? .failure : (worst.unexplainedMs > 1_000 ? .warning : .ok)
            if hostStatus != .ok { offenders.append(host) }
            status = max(status, hostStatus)
        }
        var detail = parts.joined(separator: "; ")
        switch status {
        case .ok: break
        case .warning:
            detail += ": above 1 s, planbus ps shows those hosts' heartbeat ages off by as much"
        case .failure:
            detail +=
                ": above half the \(seconds(Int64(settings.leaseMs))) lease, planbus ps would call live workers "
                + "stale or miss dead ones"
        }
        if status != .ok { detail += " (liveness itself never uses wall clocks)" }
        if let gone { detail += "; " + gone }
        return DoctorCheck(
            name: name, status: status, detail: detail,
            fix: "sync the clocks of this host and \(offenders.joined(separator: ", ")) with NTP: sudo timedatectl "
                + "set-ntp true on each (or configure chrony); timedatectl timesync-status shows the offset")
    }

    /// Milliseconds as seconds with one decimal, such as `5.0 s`.
    static func seconds(_ ms: Int64) -> String {
        "\((Double(ms) / 100).rounded() / 10) s"
    }
}
