import Bus
import Launcher
import Synchronization

/// Reads the memory of the supervisor of a `planbus up` session and of every role process it runs
/// (their pids from its `state.json`): once after an idle period, then every sample during a run,
/// then the peaks when the run is over.
final class RoleMemoryProbe: Sendable {
    private struct Key: Hashable {
        var role: String
        var instance: Int
    }

    private let statePath: String
    private let supervisor: Int32
    private let readings = Mutex<[Key: RoleMemory]>([:])

    init(statePath: String, supervisor: Int32) {
        self.statePath = statePath
        self.supervisor = supervisor
    }

    /// The processes now: the supervisor, then each instance with a pid.
    private func processes() -> [(Key, Int32)] {
        var out = [(Key(role: "supervisor", instance: 0), supervisor)]
        if let snap = SupervisorSnapshot.read(path: statePath) {
            for instance in snap.instances {
                if let pid = instance.pid { out.append((Key(role: instance.role, instance: instance.instance), pid)) }
            }
        }
        return out
    }

    private func update(_ change: (inout RoleMemory, ProcessMemory) -> Void) {
        let found = processes().compactMap { key, pid in ProcessMemory.read(pid: pid).map { (key, pid, $0) } }
        readings.withLock { all in
            for (key, pid, memory) in found {
                var reading = all[key] ?? RoleMemory(role: key.role, instance: key.instance, pid: pid)
                reading.pid = pid
                change(&reading, memory)
                all[key] = reading
            }
        }
    }

    /// Records every process's memory as its idle reading.
    func recordIdle() { update { $0.idle = $1 } }

    /// Records a sample under load (keeps the largest `VmRSS`).
    func sample() { update { $0.loadResidentKiB = max($0.loadResidentKiB ?? 0, $1.residentKiB) } }

    /// Records the peaks (`VmHWM`) at the end of the run.
    func recordEnd() {
        update {
            $0.loadResidentKiB = max($0.loadResidentKiB ?? 0, $1.residentKiB)
            $0.loadPeakKiB = $1.peakKiB
        }
    }

    /// Every reading: the supervisor first, then by role and instance.
    var result: [RoleMemory] {
        readings.withLock { Array($0.values) }.sorted {
            ($0.role == "supervisor" ? 0 : 1, $0.role, $0.instance) < (
                $1.role == "supervisor" ? 0 : 1, $1.role, $1.instance
            )
        }
    }
}
