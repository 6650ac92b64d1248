import Bus
import Foundation
import Launcher
import Processes

/// Starts fixture processes that are not workers.
public enum ChildProcessLauncher {
    /// `PlanbusTestWorker publish`: publishes `count` envelopes as fast as it can (durable per
    /// the bus settings), for crash tests.
    public static func publisher(bus: TemporaryBus, role: String = "work", run: String, count: Int) throws
        -> ChildProcess
    {
        var args = [
            Executables.testWorker, "publish", "--bus", bus.path, "--role", role, "--run", run, "--count",
            String(count),
        ]
        if bus.bus.settings.durable { args.append("--durable") }
        return try ChildProcess.spawn(args, stdout: .null, stderr: .null)
    }
}
