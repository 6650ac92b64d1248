import Foundation
import Launcher
import Testing

@Suite("planbus.yaml: backlog")
struct BacklogConfigTests {
    @Test("backlog is a folder resolved against the file's folder; absent or null is none")
    func read() throws {
        let folder = try ConfigFolder()
        #expect(try ConfigLoader.load(path: folder.write("version: 1\n")).backlog == nil)
        #expect(try ConfigLoader.load(path: folder.write("backlog: null\n")).backlog == nil)
        #expect(try ConfigLoader.load(path: folder.write("backlog:\n")).backlog == nil)
        #expect(
            try ConfigLoader.load(path: folder.write("backlog: plans/inbox\n")).backlog == folder.path + "/plans/inbox")
        #expect(
            try ConfigLoader.load(path: folder.write("backlog: ../inbox\n")).backlog == FileManager.default
                .temporaryDirectory.path + "/inbox")
        #expect(try ConfigLoader.load(path: folder.write("backlog: /srv/inbox\n")).backlog == "/srv/inbox")
    }

    @Test("the template writes backlog: null, and reads back without a backlog")
    func template() throws {
        let text = ConfigTemplate.text(bus: "bus")
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("backlog: null ") && $0.contains("# ") })
        let folder = try ConfigFolder()
        #expect(try ConfigLoader.load(path: folder.write(text)).backlog == nil)
    }

    @Test(
        "a backlog that would take other files, or is not a path, names the line, column and field",
        arguments: [
            ("backlog: .\n", "1:10: backlog:", "not the folder of this file"),
            ("repository: repo\nbacklog: repo\n", "2:10: backlog:", "not the repository"),
            ("backlog: ./bus\nbus: bus\n", "1:10: backlog:", "not the bus"),
            ("bus: /srv/bus\nbacklog: /srv/bus/plans\n", "2:10: backlog:", "must not be inside the bus (/srv/bus)"),
            ("backlog: [a, b]\n", "1:10: backlog:", "must be a non-empty string, got a list"),
            ("backlog: \"\"\n", "1:10: backlog:", "must be a non-empty string"),
            ("backlogs: inbox\n", "1:1: backlogs:", "did you mean \"backlog\"?"),
        ])
    func rejected(text: String, location: String, says: String) throws {
        let folder = try ConfigFolder()
        let file = try folder.write(text)
        let error = launcherError { () throws(LauncherError) in _ = try ConfigLoader.load(path: file) }
        #expect(error?.code == .invalidConfig)
        let message = error?.message ?? ""
        #expect(message.hasPrefix("\(file):\(location)"), "\(message)")
        #expect(message.contains(says), "\(message)")
    }
}
