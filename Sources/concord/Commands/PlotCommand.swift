import ArgumentParser
import Foundation
import Persistence
import Training

/// `concord plot RUN_DIR… [--metrics a,b] --out FILE.svg`: runs' metrics over their epochs.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot metrics of one or more runs over their epochs (SVG, one panel per metric), and print each run's last and best values.",
        discussion: """
            Reads metrics.jsonl in each run directory. Any key of its records can be plotted: \
            knn_acc for pre-training runs watched by the kNN monitor, test_acc for supervised \
            ones, test_loss for MAE, train_loss, lr or images_per_s for any. Without --metrics: \
            those of train_loss, test_loss, test_acc and knn_acc the runs have.
            """)

    @Argument(help: "Run directories (each holding metrics.jsonl).") var runs: [String]
    @Option(name: [.customLong("metrics"), .customLong("metric")],
            help: "Comma-separated metrics.jsonl keys, one panel each.") var metrics: String?
    @Option(name: [.customLong("out"), .customLong("to")],
            help: "Where to write the plot (default: the metric's name .svg, or metrics.svg).") var out: String?

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("name at least one run directory") }
        if let metrics, Self.keys(metrics).isEmpty { throw ValidationError("--metrics names no key; e.g. --metrics train_loss,test_acc") }
    }

    static func keys(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() throws {
        try RankErrors.beforeWorld {
            let plot = try MetricsPlot(runs: runs, metrics: metrics.map(Self.keys))
            for line in plot.summary { print(line) }
            let names = plot.panels.map(\.metric)
            let path = out ?? (names.count == 1 ? names[0] : "metrics") + ".svg"
            let title = names.joined(separator: ", ") + " — " + plot.runNames.joined(separator: ", ")
            do { try AtomicFile.write(plot.svg(title: title), to: path) } catch let error as FileWriteError {
                throw CLIError("\(error); choose another path with --out")
            }
            print("plot: \(path)")
        }
    }
}
