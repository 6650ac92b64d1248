import Foundation

/// Paths of the package's executables, next to the running test binary.
public enum Executables {
    /// The folder holding the built products (`.build/debug`), or `$PLANBUS_BIN_DIR`.
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["PLANBUS_BIN_DIR"] { return dir }
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // An .xctest bundle on Linux is a plain executable in the products folder.
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("planbus").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    /// The `planbus` command.
    public static var planbus: String { directory + "/planbus" }
    /// The worker fixture.
    public static var testWorker: String { directory + "/PlanbusTestWorker" }
}
