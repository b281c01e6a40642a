import Config
import Foundation

/// What `concord schedule` shows of a config: the learning rate and weight decay at the
/// iterations where something happens (segment boundaries, milestones, steps, restarts, and
/// the quarters of the run), and the same curves as an SVG plot.
public struct ScheduleReport {
    /// The run's length on `ranks` ranks.
    public let length: RunLength
    public let schedules: OptimizerSchedules
    let config: TrainConfig
    let ranks: Int

    /// - Parameter trainCount: training images (the data set's size).
    public init(config: TrainConfig, ranks: Int, trainCount: Int) throws {
        self.config = config
        self.ranks = ranks
        length = try RunLength(config: config, trainCount: trainCount, worldSize: ranks)
        schedules = OptimizerSchedules(config: config, baseLR: config.baseLR(worldSize: ranks), iterationsPerEpoch: length.iterationsPerEpoch)
    }

    /// Iterations worth a row, in order.
    public var keyIterations: [Int] {
        let total = length.last, perEpoch = length.iterationsPerEpoch
        let lr = schedules.learningRate
        var points = Set(lr.boundaries + [total - 1, total / 4, total / 2, 3 * total / 4])
        for m in config.schedule.milestones { points.insert(m * perEpoch) }
        if config.schedule.kind == .step {
            // Steps count from the end of the warm-up, like the segment they belong to.
            let start = lr.boundaries.last ?? 0, size = config.schedule.stepEpochs * perEpoch
            for at in stride(from: start + size, to: total, by: size) { points.insert(at - 1); points.insert(at) }
        }
        if config.schedule.kind == .cosineRestarts {
            var start = lr.boundaries.last ?? 0, cycle = config.schedule.restartEpochs * perEpoch
            while start + cycle < total { start += cycle; points.insert(start); points.insert(start - 1); cycle *= config.schedule.restartMult }
        }
        return points.filter { $0 >= 0 && $0 < total }.sorted()
    }

    /// The table: a header, then iteration, epoch, learning rate and weight decay per key point.
    public var lines: [String] {
        let perEpoch = length.iterationsPerEpoch
        var out = ["\(config.schedule.kind.rawValue) after \(config.schedule.warmupKind.rawValue) warm-up; \(ranks) rank(s) × \(config.train.batchSize) images, "
                   + "\(perEpoch) iterations per epoch, \(length.last) in all",
                   "iteration   epoch      lr            weight decay"]
        for i in keyIterations {
            out.append(String(format: "%9d  %6.2f   %-12.6g  %.6g", i, Double(i) / Double(perEpoch),
                              schedules.learningRate.value(at: i), schedules.weightDecay.value(at: i)))
        }
        return out
    }

    /// Both curves over the run, titled `title`.
    public func svg(title: String) -> String {
        SchedulePlot.svg([.init(name: "learning rate", color: "#1f77b4", schedule: schedules.learningRate),
                          .init(name: "weight decay", color: "#d62728", schedule: schedules.weightDecay)],
                         iterations: length.last, iterationsPerEpoch: length.iterationsPerEpoch, title: title)
    }
}
