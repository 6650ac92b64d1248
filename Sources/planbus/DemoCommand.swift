import ArgumentParser

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Demonstrations: a plan run end to end (the default), or the bus alone.",
        discussion: """
            planbus demo (planbus demo run) runs a plan end to end on a scratch project, offline: \
            builds in parallel, a dependent task, a retry after a gate's rejection, a change \
            rejected for its scope, a competition decided by the judge, and the handoff, each \
            checked from the bus and git. planbus demo bus shows the bus on its own: competing \
            worker processes, a crash mid-work and a fenced take-over.
            """,
        subcommands: [DemoRunCommand.self, DemoBusCommand.self],
        defaultSubcommand: DemoRunCommand.self
    )
}
