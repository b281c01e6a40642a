import ArgumentParser
import Coordinator
import Data
import Foundation

/// `concord schedule CONFIG`: the learning-rate and weight-decay schedules a config makes.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Print a config's learning-rate and weight-decay schedules at their key points and plot them (SVG).",
        discussion: "Iterations per epoch follow from the Fashion-MNIST training set, train.batch_size and --ranks.")

    @Argument(help: "YAML run configuration.") var config: String
    @Option(name: .customLong("set"), help: "Override a key: --set schedule.kind=step (repeatable).") var overrides: [String] = []
    @Option(help: "Number of ranks the run will use (the global batch and the linear scaling rule depend on it).") var ranks: Int = 1
    @Option(help: "Where to write the plot.") var plot: String = "schedule.svg"

    func validate() throws {
        guard ranks >= 1 else { throw ValidationError("--ranks must be at least 1") }
    }

    func run() throws {
        let cfg = try ConfigLoader.load(path: config, overrides: overrides)
        // As the trainer counts: rank 0's shard of the training set, in whole batches.
        let shard = ShardedSampler(datasetCount: FashionMNIST.trainCount, rank: 0, worldSize: ranks, seed: 0,
                                   padTail: cfg.distributed.shardTail == .pad).count
        let perEpoch = shard / cfg.train.batchSize
        guard perEpoch >= 1 else {
            throw CLIError("train.batch_size \(cfg.train.batchSize) × \(ranks) rank(s) is larger than the \(FashionMNIST.trainCount) training images")
        }
        let total = cfg.train.iterations > 0 ? min(cfg.train.iterations, cfg.train.epochs * perEpoch) : cfg.train.epochs * perEpoch
        let lr = ScheduleFactory.learningRate(cfg, base: cfg.baseLR(worldSize: ranks), iterationsPerEpoch: perEpoch)
        let wd = ScheduleFactory.weightDecay(cfg, iterationsPerEpoch: perEpoch)
        print("\(cfg.schedule.kind.rawValue) after \(cfg.schedule.warmupKind.rawValue) warm-up; \(ranks) rank(s) × \(cfg.train.batchSize) images, "
              + "\(perEpoch) iterations per epoch, \(total) in all")
        var points = Set(lr.boundaries + [total - 1, total / 4, total / 2, 3 * total / 4])
        for m in cfg.schedule.milestones { points.insert(m * perEpoch) }
        if cfg.schedule.kind == .step {
            // Steps count from the end of the warm-up, like the segment they belong to.
            let start = lr.boundaries.last ?? 0, size = cfg.schedule.stepEpochs * perEpoch
            for at in stride(from: start + size, to: total, by: size) { points.insert(at - 1); points.insert(at) }
        }
        if cfg.schedule.kind == .cosineRestarts {
            var start = lr.boundaries.last ?? 0, cycle = cfg.schedule.restartEpochs * perEpoch
            while start + cycle < total { start += cycle; points.insert(start); points.insert(start - 1); cycle *= cfg.schedule.restartMult }
        }
        print("iteration   epoch      lr            weight decay")
        for i in points.filter({ $0 >= 0 && $0 < total }).sorted() {
            print(String(format: "%9d  %6.2f   %-12.6g  %.6g", i, Double(i) / Double(perEpoch), lr.value(at: i), wd.value(at: i)))
        }
        let svg = SchedulePlot.svg([.init(name: "learning rate", color: "#1f77b4", schedule: lr),
                                    .init(name: "weight decay", color: "#d62728", schedule: wd)],
                                   iterations: total, iterationsPerEpoch: perEpoch, title: (config as NSString).lastPathComponent)
        do { try svg.write(toFile: plot, atomically: true, encoding: .utf8) } catch {
            throw CLIError("cannot write the plot to '\(plot)': \(error.localizedDescription); choose another path with --plot")
        }
        print("plot: \(plot)")
    }
}
