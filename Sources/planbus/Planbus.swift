import ArgumentParser

@main
struct Planbus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planbus",
        abstract: "Turn a plan into verified code changes, with roles that talk only through a file bus.",
        discussion: """
            Exit codes: 0 success, 1 failure, 3 invalid input (envelope, bus, arguments' content), \
            4 not found, 64 bad usage.
            """,
        version: "0.1.0",
        subcommands: [
            InitCommand.self, SubmitCommand.self, StatusCommand.self, TailCommand.self, MergeCommand.self,
            WatchCommand.self, UsageCommand.self, QuestionsCommand.self, AnswerCommand.self, ApproveCommand.self,
            RejectCommand.self,
            SendCommand.self,
            LogCommand.self,
            ShowCommand.self,
            JanitorCommand.self,
            UpCommand.self, DownCommand.self, PsCommand.self, RestartCommand.self, KillCommand.self, DoctorCommand.self,
            RoleCommand.self, DemoCommand.self, BenchCommand.self,
        ]
    )
}
