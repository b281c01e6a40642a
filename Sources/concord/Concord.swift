import ArgumentParser

struct Concord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord",
        abstract: "Data-parallel neural-network training on CPUs.",
        version: "0.1.0",
        subcommands: [TrainCommand.self, ProbeCommand.self, GoldenCommand.self, BenchCommand.self, CheckpointCommand.self, ExportCommand.self, ScheduleCommand.self]
    )
}
