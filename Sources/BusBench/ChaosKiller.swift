import Bus
import Launcher
import Processes

#if canImport(Glibc)
    import Glibc
#endif

/// Picks and kills the chaos run's victims: a random role process of the supervisor, or the
/// supervisor itself.
///
/// A victim is first stopped (SIGSTOP), so the claims it holds can be listed from `cur/` while it
/// cannot change them, then killed (SIGKILL). A role process is one that the supervisor's
/// `state.json` shows `running` and whose parent, per `/proc/<pid>/stat`, is that supervisor, so a
/// pid the kernel has given to another process since is never hit.
struct ChaosKiller: Sendable {
    let bus: Bus
    let files: SupervisorFiles

    /// The role processes of the supervisor `pid` that can be killed now.
    func targets(supervisor pid: Int32) -> [SupervisorSnapshot.Instance] {
        guard let snap = SupervisorSnapshot.read(path: files.state), snap.pid == pid else { return [] }
        return snap.instances.filter { instance in
            guard instance.phase == "running", let child = instance.pid else { return false }
            return Self.parent(of: child) == pid
        }
    }

    /// Kills one process drawn from ``targets(supervisor:)`` with `random`; `nil` when there is
    /// none or it was gone before the signal.
    func killRole(supervisor pid: Int32, random: inout ChaosRandom) -> ChaosKill? {
        let candidates = targets(supervisor: pid)
        guard !candidates.isEmpty else { return nil }
        let victim = candidates[Int(random.next() % UInt64(candidates.count))]
        guard let child = victim.pid, kill(child, SIGSTOP) == 0 else { return nil }
        Self.waitStopped([child])
        let held = claims(of: [child])
        let time = Timestamp.now()
        guard kill(child, SIGKILL) == 0 else { return nil }
        return ChaosKill(role: victim.role, instance: victim.instance, pid: child, time: time, held: held)
    }

    /// Kills the supervisor `up`; its role processes, stopped first so their claims can be listed,
    /// die with it through their parent-death signal.
    func killSupervisor(_ up: ChildProcess) -> ChaosKill {
        let children = targets(supervisor: up.pid).compactMap(\.pid)
        for child in children { kill(child, SIGSTOP) }
        Self.waitStopped(children)
        let held = claims(of: Set(children))
        let time = Timestamp.now()
        up.send(SIGKILL)
        return ChaosKill(role: ChaosKill.supervisor, instance: nil, pid: up.pid, time: time, held: held)
    }

    /// Waits (at most a second) until every thread of every process `pids` is stopped, or gone:
    /// `kill(2)` returns before the signal takes effect, and a thread in the middle of a system
    /// call (a rename that commits an ack) finishes it first.
    static func waitStopped(_ pids: [Int32]) {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(1)
        func stopped(_ pid: Int32) -> Bool {
            let threads = (try? FileOps.list("/proc/\(pid)/task")) ?? []
            return threads.allSatisfy { thread in
                guard case .bytes(let bytes) = FileOps.readRegular("/proc/\(pid)/task/\(thread)/stat", limit: 4096)
                else { return true }
                let text = String(decoding: bytes, as: UTF8.self)
                guard let close = text.lastIndex(of: ")") else { return true }
                let state = text[text.index(after: close)...].split(separator: " ").first ?? ""
                return state == "T" || state == "t" || state == "Z" || state == "X"
            }
        }
        while clock.now < deadline, !pids.allSatisfy(stopped) { sched_yield() }
    }

    /// True when none of `pids` runs any more (a zombie counts as gone).
    static func allGone(_ pids: [Int32]) -> Bool {
        pids.allSatisfy { pid in kill(pid, 0) != 0 || state(of: pid) == "Z" }
    }

    /// The claims in the `cur/` folders whose holders are processes `pids` of this host.
    func claims(of pids: Set<Int32>) -> [ChaosKill.Claim] {
        var out: [ChaosKill.Claim] = []
        for role in (try? bus.roles()) ?? [] {
            for name in (try? FileOps.list(bus.layout.cur(role))) ?? [] {
                guard let claim = QueueNames.parseClaim(name), claim.worker.host == Host.name,
                    pids.contains(claim.worker.pid)
                else { continue }
                out.append(ChaosKill.Claim(id: claim.id, role: role, epoch: claim.epoch))
            }
        }
        return out
    }

    /// The parent pid of `pid`, from `/proc/<pid>/stat`.
    static func parent(of pid: Int32) -> Int32? {
        guard let fields = statFields(of: pid), fields.count > 1 else { return nil }
        return Int32(String(fields[1]))
    }

    /// The state letter of `pid` (`R`, `S`, `Z`…), from `/proc/<pid>/stat`.
    static func state(of pid: Int32) -> String? {
        guard let first = statFields(of: pid)?.first else { return nil }
        return String(first)
    }

    /// The fields of `/proc/<pid>/stat` after the command name.
    private static func statFields(of pid: Int32) -> [Substring]? {
        guard case .bytes(let bytes) = FileOps.readRegular("/proc/\(pid)/stat", limit: 4096) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
