import ArgumentParser
import Config
import Datasets
import Foundation
import Persistence
import Training

/// `concord schedule CONFIG`: the learning-rate and weight-decay schedules a config makes.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Print a config's learning-rate and weight-decay schedules at their key points and plot them (SVG).",
        discussion: "Iterations per epoch follow from the configured training set (data:), train.batch_size and --ranks.")

    @Argument(help: "YAML run configuration.") var config: String
    @Option(name: .customLong("set"), help: "Override a key: --set schedule.kind=step (repeatable).") var overrides: [String] = []
    @Option(help: "Number of ranks the run will use (the global batch and the linear scaling rule depend on it).") var ranks: Int = 1
    @Option(help: "Where to write the plot.") var plot: String = "schedule.svg"

    func validate() throws {
        guard ranks >= 1 else { throw ValidationError("--ranks must be at least 1") }
    }

    func run() throws {
        try RankErrors.beforeWorld {
            let loaded = try ConfigLoader.load(path: config, overrides: overrides)
            // The schedule needs only the training set's size; a plan made away from the data
            // assumes Fashion-MNIST's and says so.
            let trainCount: Int
            do { trainCount = try TrainingData.trainingImageCount(config: loaded) } catch {
                print("note: \(error); iterations per epoch assume Fashion-MNIST's \(FashionMNIST.trainCount) training images")
                trainCount = FashionMNIST.trainCount
            }
            let report = try ScheduleReport(config: loaded, ranks: ranks, trainCount: trainCount)
            for line in report.lines { print(line) }
            do { try AtomicFile.write(report.svg(title: (config as NSString).lastPathComponent), to: plot) } catch let error as FileWriteError {
                throw CLIError("\(error); choose another path with --plot")
            }
            print("plot: \(plot)")
        }
    }
}
