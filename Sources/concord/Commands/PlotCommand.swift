import ArgumentParser
import Foundation
import Persistence
import Training

/// `concord plot RUN_DIR… --metric NAME`: one metric of several runs over their epochs.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot one metric of one or more runs over their epochs (SVG), and print each run's last and best value.",
        discussion: """
            Reads metrics.jsonl in each run directory: e.g. --metric knn_acc for pre-training \
            runs watched by the kNN monitor, test_acc for supervised ones, test_loss for MAE, \
            train_loss for any.
            """)

    @Argument(help: "Run directories (each holding metrics.jsonl).") var runs: [String]
    @Option(help: "The metrics.jsonl key to plot.") var metric: String
    @Option(help: "Where to write the plot (default: METRIC.svg).") var to: String?

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("name at least one run directory") }
    }

    func run() throws {
        try RankErrors.beforeWorld {
            let plot = try MetricsPlot(runs: runs, metric: metric)
            for line in plot.summary { print(line) }
            let path = to ?? metric + ".svg"
            do { try AtomicFile.write(plot.svg(title: metric), to: path) } catch let error as FileWriteError {
                throw CLIError("\(error); choose another path with --to")
            }
            print("plot: \(path)")
        }
    }
}
