import Config
import Datasets
import Engine
import Foundation
import MPI
import Persistence

/// Training, data-parallel over the ranks of a communicator (one process is rank 0 of 1):
/// forward, backward, reduce, step, schedule, log, checkpoint; the objective's evaluation at
/// its cadence; the final weights. What is trained is the objective (`TrainingObjective`);
/// the loop never names a method.
///
/// Every rank builds the same networks from the seed; rank 0's values are broadcast and the
/// names and shapes checked (`TrainingStep`). Each rank trains on its shard of each epoch's
/// permutation with its own augmentation stream; gradients are averaged, so N ranks with
/// batch B train like one process with batch N·B. Only rank 0 writes the run directory and
/// shows progress.
public final class Trainer {
    /// One epoch's record (a `metrics.jsonl` line).
    public struct EpochMetrics {
        public var epoch: Int
        /// This epoch's totals over every rank.
        public var totals: EpochTotals
        /// The objective's evaluation (`test_loss`, `test_acc`, `knn_acc`), when it ran.
        public var evaluation: [(String, Double)]
        /// Seconds the evaluation took (not part of `seconds`).
        public var evaluationSeconds: Double?
        public var learningRate: Double
        public var seconds: Double
        public var imagesPerSecond: Double
    }

    let config: TrainConfig
    let world: Communicator
    let run: RunDirectory?
    let progress: ProgressDisplay
    let objective: any TrainingObjective
    let step: TrainingStep
    let data: TrainingData
    let length: RunLength
    let augmentation: Augmentation
    let faults: FaultInjection?
    let start: TrainingStart
    /// Iterations completed across all epochs; the schedules are functions of it.
    public private(set) var iteration: Int
    public private(set) var history: [EpochMetrics] = []
    var metricsLines: [String]
    var store: CheckpointStore?
    var tensorBoard: TensorBoardLog?

    /// - Parameters:
    ///   - run: the run directory on rank 0, nil on the other ranks.
    ///   - start: where this rank begins (`TrainingStart.fresh`, or a resume plan's).
    ///   - checkpoint: the checkpoint `start` came from, whose tensors and counters are loaded.
    public init(config: TrainConfig, objective: any TrainingObjective, data: TrainingData, length: RunLength,
                world: Communicator, run: RunDirectory?, start: TrainingStart, checkpoint: CheckpointFile? = nil,
                faults: FaultInjection? = nil, progress: ProgressDisplay? = nil) throws {
        self.config = config
        self.objective = objective
        self.data = data
        self.length = length
        self.world = world
        self.run = run
        self.start = start
        self.faults = faults
        iteration = start.iteration
        metricsLines = start.metricsLines
        let mode: ProgressMode = world.rank == 0 ? config.run.progress : .none
        let display = progress ?? ProgressDisplay(mode: mode, iterationsPerEpoch: length.iterationsPerEpoch,
                                                  epochs: config.train.epochs, logEvery: config.run.logEvery)
        self.progress = display
        step = try TrainingStep(config: config, objective: objective, world: world, iterationsPerEpoch: length.iterationsPerEpoch,
                                faults: faults) { [run] line in
            try? run?.appendLog(line)
            if world.rank == 0 { display.note(line) }
        }
        step.nonFiniteSteps = start.nonFiniteSteps
        augmentation = Augmentation(padding: config.data.pad, mean: data.train.mean, std: data.train.std)
        if let checkpoint { try restore(from: checkpoint) }
    }

    /// Trains for `train.epochs` epochs (or `train.iterations` steps), evaluating at the
    /// objective's cadence and after the last epoch; rank 0 writes metrics.jsonl lines,
    /// checkpoints (`checkpoint.*`; always when a stop signal arrives) and, at the end,
    /// `model.safetensors` and `checkpoints/final.ckpt`.
    /// - Throws: `TrainingStopped` after saving, when SIGTERM / SIGINT asked to stop.
    @discardableResult
    public func train() throws -> [EpochMetrics] {
        try logStart()
        if let run {
            store = CheckpointStore(directory: run.checkpointsPath, keep: config.checkpoint.keep)
            tensorBoard = try TensorBoardLog(directory: run.path, startIteration: start.iteration, startEpoch: start.epoch,
                                             startTotals: start.totals, every: config.run.logEvery,
                                             globalBatch: config.train.batchSize * world.size)
        }
        let micro = config.train.accumulationSteps
        let perEpoch = length.iterationsPerEpoch
        var augmentRNG = start.augmentation
        for epoch in start.epoch..<config.train.epochs where iteration < length.last {
            let resuming = epoch == start.epoch
            let startedAt = MonotonicClock.seconds()
            objective.setTraining(true)
            var totals = resuming ? start.totals : EpochTotals()
            let loader = makeLoader(epoch: epoch, rng: augmentRNG, startBatch: resuming ? start.batchInEpoch : 0)
            defer { loader.stop() }
            var lr = 0.0
            while iteration < length.last && iteration - epoch * perEpoch < perEpoch {
                // forward, backward, reduce, step (every rank learns whether any was asked to stop)
                let result = try step.run(iteration: iteration, microBatches: micro, stopRequested: StopSignal.received != nil,
                                          totals: &totals, next: { loader.next() })
                if result.status == .stopRequested {
                    try saveCheckpoint(epoch: epoch, loader: loader, totals: totals)
                    throw TrainingStopped(signal: StopSignal.received ?? SIGTERM, iteration: iteration)
                }
                if result.status != .leftOut { lr = result.learningRate }
                iteration += 1
                // log
                progress.update(iteration: iteration, metrics: [("loss", totals.meanLoss)]
                                + (objective.accuracyName.map { [($0, totals.accuracy)] } ?? []) + [("lr", lr)])
                try tensorBoard?.iterationDone(iteration, epoch: epoch, epochEnds: iteration - epoch * perEpoch == perEpoch,
                                               totals: totals, learningRate: lr)
                // checkpoint
                if checkpointDue(epochEnds: iteration - epoch * perEpoch == perEpoch) {
                    try saveCheckpoint(epoch: epoch, loader: loader, totals: totals)
                }
            }
            augmentRNG = loader.randomState
            // Epoch end: totals over every rank, evaluation, record, checkpoint.
            let global = try totals.summed(over: world)
            let seconds = MonotonicClock.seconds() - startedAt
            var metrics = EpochMetrics(epoch: epoch + 1, totals: global, evaluation: [], learningRate: lr, seconds: seconds,
                                       imagesPerSecond: global.freshExamples / seconds)
            if evaluationDue(epoch: epoch) {
                let evaluationStart = MonotonicClock.seconds()
                metrics.evaluation = try evaluate()
                metrics.evaluationSeconds = MonotonicClock.seconds() - evaluationStart
            }
            history.append(metrics)
            try record(metrics)
            if config.checkpoint.everyEpoch && iteration < length.last {
                try saveCheckpoint(epoch: epoch + 1, batchInEpoch: 0, augmentation: augmentRNG, totals: EpochTotals())
            }
        }
        try run?.appendLog("\(iteration) iterations, \(step.reducer.reductions) gradient reductions, \(step.nonFiniteSteps) skipped for non-finite gradients")
        try saveFinalState()
        return history
    }

    /// The loader of `epoch` for this rank: its shard of the epoch's permutation, in
    /// micro-batches, augmented from `rng`, starting after `startBatch` batches.
    func makeLoader(epoch: Int, rng: RandomGenerator, startBatch: Int) -> BatchLoader {
        let sampler = ShardedSampler(datasetCount: data.train.count, rank: world.rank, worldSize: world.size,
                                     seed: UInt64(config.train.seed), epoch: epoch, padTail: config.distributed.shardTail == .pad)
        return BatchLoader(dataset: data.train, sampler: sampler, batchSize: config.train.batchSize / config.train.accumulationSteps,
                           dropLast: true, augmentation: augmentation, augment: config.data.augment,
                           views: objective.views, rng: rng, startBatch: startBatch)
    }

    /// Whether `checkpoint.every_iterations` asks for a snapshot now (not where the epoch-end
    /// one follows, nor after the last step, which writes the final checkpoint).
    func checkpointDue(epochEnds: Bool) -> Bool {
        let every = config.checkpoint.everyIterations
        return every > 0 && iteration % every == 0 && !(epochEnds && config.checkpoint.everyEpoch) && iteration < length.last
    }

    /// Whether the objective evaluates after `epoch`: at its cadence and after the last one.
    func evaluationDue(epoch: Int) -> Bool {
        let every = objective.evaluationEvery
        return every > 0 && ((epoch + 1) % every == 0 || epoch == config.train.epochs - 1 || iteration >= length.last)
    }

    /// The objective's evaluation with rank 0's buffers (broadcast first), in eval mode.
    func evaluate() throws -> [(String, Double)] {
        for (_, buffer) in objective.buffers {
            try world.broadcast(UnsafeMutableBufferPointer(start: buffer.data, count: buffer.count), root: 0)
        }
        objective.setTraining(false)
        // Training's pooled buffers go back before the evaluation's shapes are allocated, and
        // the evaluation's after it: peak memory is the larger phase, not their sum.
        BufferPool.shared.drain()
        defer {
            BufferPool.shared.drain()
            objective.setTraining(true)
        }
        return try objective.evaluate(batchSize: config.train.batchSize)
    }
}
