// concord — the command line: each subcommand parses its flags (choices are the library's
// enums), calls one library entry point and maps errors to exit statuses (`RankErrors`).
// No training, checkpoint or measuring logic lives here.

import ArgumentParser

struct Concord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord",
        abstract: "Data-parallel neural-network training on CPUs.",
        version: "0.1.0",
        subcommands: [TrainCommand.self, FinetuneCommand.self, ProbeCommand.self, GoldenCommand.self, BenchCommand.self, CheckpointCommand.self, ExportCommand.self, ScheduleCommand.self, PlotCommand.self, HostfileCommand.self]
    )
}
