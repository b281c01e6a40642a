import Data
import Engine
import Foundation
import MPI

/// Training on Fashion-MNIST, data-parallel over the ranks of a communicator (one process is
/// rank 0 of 1): forward, backward, reduce, step, schedule, log, checkpoint; an evaluation
/// after each epoch; the final weights. What is trained — a classifier, or MoCo v2 — is the
/// config's `train.method`, an objective (`TrainingObjective`) the loop calls into.
///
/// Every rank builds the same networks from the seed; rank 0's values are broadcast and the
/// names and shapes checked. Each rank trains on its shard of each epoch's permutation with
/// its own augmentation stream; gradients are averaged by the `GradientReducer`, so N ranks
/// with batch B train like one process with batch N·B. Only rank 0 writes the run directory
/// and shows progress.
public final class Trainer {
    public struct EpochMetrics {
        public var epoch: Int
        public var trainLoss: Double
        /// Classification accuracy, or MoCo's instance accuracy (the positive ranked first).
        public var trainAccuracy: Double
        /// The objective's evaluation (`test_loss`, `test_acc`, `knn_acc`), when it ran.
        public var evaluation: [(String, Double)]
        /// Seconds the evaluation took (not part of `seconds`).
        public var evaluationSeconds: Double?
        public var learningRate: Double
        public var seconds: Double
        public var imagesPerSecond: Double
        /// Steps skipped on every rank because some rank's gradients were not finite.
        public var skippedSteps: Int
    }

    let config: TrainConfig
    let world: Communicator
    let run: RunDirectory?
    let progress: ProgressDisplay
    let objective: any TrainingObjective
    let optimizer: any Optimizer
    let reducer: GradientReducer
    let schedule: Schedule
    let weightDecaySchedule: Schedule
    let trainSet: FashionMNIST
    let iterationsPerEpoch: Int
    let augmentation: Augmentation
    let fault: FaultInjection?
    /// Iterations completed across all epochs; the schedules are functions of it.
    public internal(set) var globalIteration = 0
    public private(set) var history: [EpochMetrics] = []
    /// Steps skipped on every rank because some rank's gradients were not finite.
    public internal(set) var nonFiniteSteps = 0

    /// - Parameters:
    ///   - run: the run directory on rank 0, nil on the other ranks.
    public init(config: TrainConfig, run: RunDirectory?, world: Communicator = .single(),
                progress: ((_ iterationsPerEpoch: Int) -> ProgressDisplay)? = nil) throws {
        self.config = config
        self.run = run
        self.world = world
        fault = try FaultInjection.fromEnvironment()
        Parallel.configure(threads: config.train.threads, convolutional: config.model.name != .mlp)
        BatchReduction.configure(worldSize: world.size)
        trainSet = try FashionMNIST(split: .train, directory: config.data.path)
        let testSet = try FashionMNIST(split: .test, directory: config.data.path)
        guard config.model.numClasses >= FashionMNIST.classCount else {
            throw CoordinatorError("model.num_classes \(config.model.numClasses) is smaller than the \(FashionMNIST.classCount) Fashion-MNIST classes; set it to at least \(FashionMNIST.classCount)")
        }
        guard config.train.batchSize % config.train.accumulationSteps == 0 else {
            throw CoordinatorError("train.batch_size \(config.train.batchSize) does not split into train.accumulation_steps \(config.train.accumulationSteps) equal micro-batches; make it a multiple")
        }
        let shard = ShardedSampler(datasetCount: trainSet.count, rank: world.rank, worldSize: world.size, seed: 0,
                                   padTail: config.distributed.shardTail == .pad).count
        guard shard >= config.train.batchSize else {
            throw CoordinatorError("train.batch_size \(config.train.batchSize) is larger than the \(shard) training images of each of \(world.size) rank(s)")
        }
        var rng = RandomGenerator(seed: UInt64(config.train.seed), purpose: .initialization)
        iterationsPerEpoch = shard / config.train.batchSize
        switch config.train.method {
        case .supervised:
            objective = SupervisedObjective(config: config, world: world, testSet: testSet, rng: &rng)
        case .moco:
            objective = try MoCoObjective(config: config, world: world, monitor: (trainSet, testSet),
                                          iterations: iterationsPerEpoch * config.train.epochs, rng: &rng)
        }
        // Bucket cap in bytes, kept between one value and 1 GiB whatever the config says.
        let capBytes = Int(min(max(config.distributed.bucketCapMB * 1_048_576, 4), 1_073_741_824))
        reducer = try GradientReducer(parameters: objective.parameters, communicator: world, bucketCapBytes: capBytes)
        try reducer.synchronize(objective.parameters + objective.buffers)
        let baseLR = config.baseLR(worldSize: world.size)
        optimizer = try OptimizerFactory.make(config.optimizer, parameters: objective.parameters, lr: baseLR)
        schedule = ScheduleFactory.learningRate(config, base: baseLR, iterationsPerEpoch: iterationsPerEpoch)
        weightDecaySchedule = ScheduleFactory.weightDecay(config, iterationsPerEpoch: iterationsPerEpoch)
        let mode: ProgressMode = world.rank == 0 ? config.run.progress : .none
        self.progress = progress?(iterationsPerEpoch)
            ?? ProgressDisplay(mode: mode, iterationsPerEpoch: iterationsPerEpoch,
                               epochs: config.train.epochs, logEvery: config.run.logEvery)
        augmentation = Augmentation(padding: config.data.pad)
    }

    /// Total optimizer steps this run takes.
    var lastIteration: Int {
        let full = iterationsPerEpoch * config.train.epochs
        return config.train.iterations > 0 ? min(config.train.iterations, full) : full
    }

    /// Where training starts: the beginning, or a restored `TrainState`.
    struct Position {
        var epoch = 0
        var batchInEpoch = 0
        var augmentation: RandomGenerator
        var epochSums = [0.0, 0.0, 0.0, 0.0]   // loss sum, correct, examples, skipped steps
    }
    var start: Position?
    var metricsLines: [String] = []
    var store: CheckpointStore?

    /// Trains for `train.epochs` epochs (or `train.iterations` steps), evaluating every
    /// `train.eval_every` epochs and after the last; rank 0 writes metrics.jsonl lines,
    /// checkpoints (`checkpoint.*`; always when a stop signal arrives) and, at the end,
    /// `model.safetensors` and `checkpoints/final.ckpt`.
    /// - Throws: `TrainingStopped` after saving, when SIGTERM / SIGINT asked to stop.
    @discardableResult
    public func train() throws -> [EpochMetrics] {
        let epochs = config.train.epochs
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "OPENBLAS_CORETYPE unset"
        try run?.appendLog("\(objective.summary); \(world.size) rank(s) × "
                           + "\(config.train.batchSize) images; \(iterationsPerEpoch) iterations/epoch; \(reducer.bucketSizes.count) gradient bucket(s); "
                           + "\(config.train.threads) thread(s) per rank; \(coreType) → OpenBLAS \(BLAS.coreName) kernels; "
                           + "convolutions \(ShiftedGemm.kernels.rawValue)"
                           + (config.distributed.syncBatchNorm && world.isDistributed ? "; SyncBatchNorm" : ""))
        if let run { store = CheckpointStore(directory: run.checkpointsPath, keep: config.checkpoint.keep) }
        let micro = config.train.accumulationSteps
        let begin = start ?? Position(augmentation: RandomGenerator(seed: UInt64(config.train.seed), purpose: .augmentation,
                                                                    index: UInt64(world.rank)))
        var augmentRNG = begin.augmentation
        for epoch in begin.epoch..<epochs where globalIteration < lastIteration {
            let resuming = epoch == begin.epoch
            let startedAt = Clock.now()
            objective.setTraining(true)
            var sums = resuming ? begin.epochSums : [0.0, 0.0, 0.0, 0.0]   // loss sum, correct, examples, skipped
            let sampler = ShardedSampler(datasetCount: trainSet.count, rank: world.rank, worldSize: world.size,
                                         seed: UInt64(config.train.seed), epoch: epoch,
                                         padTail: config.distributed.shardTail == .pad)
            let loader = BatchLoader(dataset: trainSet, sampler: sampler, batchSize: config.train.batchSize / micro,
                                     dropLast: true, augmentation: augmentation, augment: config.data.augment,
                                     views: objective.views, rng: augmentRNG,
                                     startBatch: resuming ? begin.batchInEpoch : 0)
            defer { loader.stop() }
            var lr = 0.0
            var freshExamples = 0.0   // examples this process trained on in this epoch (throughput)
            while globalIteration < lastIteration && (globalIteration - epoch * iterationsPerEpoch) < iterationsPerEpoch {
                // Every rank learns at the step check whether any rank was asked to stop.
                if fault?.fires(.skipStep, step: globalIteration, rank: world.rank) ?? false {
                    // The injected fault: this rank leaves out the whole step, collectives included.
                    for _ in 0..<micro { _ = loader.next() }
                    FileHandle.standardError.write(Data("concord: rank \(world.rank): fault injection: skipping step \(globalIteration)\n".utf8))
                    globalIteration += 1
                    continue
                }
                if try reducer.beginStep(globalIteration, microBatch: 0, of: micro, stopRequested: StopSignal.received != nil) {
                    try saveCheckpoint(epoch: epoch, loader: loader, sums: sums, wait: true)
                    throw TrainingStopped(signal: StopSignal.received ?? SIGTERM, iteration: globalIteration)
                }
                lr = schedule.value(at: globalIteration)
                optimizer.learningRate = Float(lr)
                if config.optimizer.weightDecay > 0 {
                    optimizer.weightDecayScale = Float(weightDecaySchedule.value(at: globalIteration) / config.optimizer.weightDecay)
                }
                optimizer.zeroGrad()
                for m in 0..<micro {
                    guard let batch = loader.next() else {
                        throw CoordinatorError("the loader ran out of batches in the middle of step \(globalIteration) (micro-batch \(m + 1) of \(micro)); this is a bug, please report it with the config")
                    }
                    if m > 0 { try reducer.beginStep(globalIteration, microBatch: m, of: micro) }
                    // forward
                    let (loss, correct) = try objective.forward(batch, iteration: globalIteration)
                    // backward (the reducer's hooks start allreduces as gradients become final)
                    let poisoned = fault?.fires(.nanGradient, step: globalIteration, rank: world.rank) ?? false
                    let seed = Tensor(shape: loss.shape, repeating: poisoned ? .nan : 1 / Float(micro))
                    loss.backward(gradient: seed)
                    sums[0] += Double(loss.item) * Double(batch.labels.count)
                    sums[1] += Double(correct)
                    sums[2] += Double(batch.labels.count)
                    freshExamples += Double(batch.labels.count)
                }
                // reduce, step
                let reduced = try reducer.finish()
                if reduced.nonFinite {
                    try skipNonFiniteStep(here: reduced.nonFiniteHere)
                    sums[3] += 1
                } else {
                    optimizer.step()
                }
                try objective.finishStep(iteration: globalIteration)
                // schedule, log, checkpoint
                globalIteration += 1
                progress.update(iteration: globalIteration,
                                metrics: [("loss", sums[0] / max(sums[2], 1)), (objective.accuracyName, sums[1] / max(sums[2], 1)), ("lr", lr)])
                let every = config.checkpoint.everyIterations
                let epochEnds = globalIteration - epoch * iterationsPerEpoch == iterationsPerEpoch
                if every > 0 && globalIteration % every == 0 && !(epochEnds && config.checkpoint.everyEpoch)
                    && globalIteration < lastIteration {
                    try saveCheckpoint(epoch: epoch, loader: loader, sums: sums, wait: false)
                }
            }
            augmentRNG = loader.randomState
            // Training metrics over every rank's examples.
            var totals = Array(sums.prefix(3)) + [freshExamples]
            try totals.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
            let seconds = Clock.now() - startedAt
            var metrics = EpochMetrics(epoch: epoch + 1, trainLoss: totals[0] / max(totals[2], 1),
                                       trainAccuracy: totals[1] / max(totals[2], 1), evaluation: [],
                                       learningRate: lr, seconds: seconds, imagesPerSecond: totals[3] / seconds,
                                       skippedSteps: Int(sums[3]))
            let every = config.train.method == .moco ? config.moco.knnEvery : config.train.evalEvery
            if every > 0 && ((epoch + 1) % every == 0 || epoch == epochs - 1 || globalIteration >= lastIteration) {
                let evaluationStart = Clock.now()
                metrics.evaluation = try evaluate()
                metrics.evaluationSeconds = Clock.now() - evaluationStart
            }
            history.append(metrics)
            try record(metrics)
            if config.checkpoint.everyEpoch && globalIteration < lastIteration {
                try saveCheckpoint(epoch: epoch + 1, batchInEpoch: 0, augmentation: augmentRNG, sums: [0, 0, 0, 0], wait: false)
            }
        }
        try run?.appendLog("\(globalIteration) iterations, \(reducer.reductions) gradient reductions, \(nonFiniteSteps) skipped for non-finite gradients")
        if world.rank == 0 {
            try saveWeights()
            try saveFinalCheckpoint()
        }
        try store?.wait()
        return history
    }

    /// Every rank skips the step; the run stops once more than `max_nonfinite_steps` were skipped.
    func skipNonFiniteStep(here: Bool) throws {
        nonFiniteSteps += 1
        let limit = config.distributed.maxNonfiniteSteps
        if here {
            FileHandle.standardError.write(Data("concord: rank \(world.rank): non-finite gradient at step \(globalIteration)\n".utf8))
        }
        try run?.appendLog("step \(globalIteration) skipped on every rank: non-finite gradients (\(nonFiniteSteps) of at most \(limit))")
        if world.rank == 0 {
            progress.note("step \(globalIteration) skipped on all \(world.size) rank(s): non-finite gradients (\(nonFiniteSteps)/\(limit) allowed)")
        }
        guard nonFiniteSteps <= limit else {
            throw CoordinatorError("stopping at step \(globalIteration): \(nonFiniteSteps) steps had non-finite gradients, more than distributed.max_nonfinite_steps \(limit); lower optimizer.lr or check the data")
        }
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

    func record(_ m: EpochMetrics) throws {
        guard let run else { return }
        var fields: [String: MetricValue] = [
            "epoch": .int(m.epoch), "iteration": .int(globalIteration), "train_loss": .double(m.trainLoss),
            "train_" + objective.accuracyName: .double(m.trainAccuracy), "lr": .double(m.learningRate), "epoch_s": .double(m.seconds),
            "images_per_s": .double(m.imagesPerSecond), "peak_rss_mib": .double(ThroughputBench.peakRSSMiB()),
            "ranks": .int(world.size), "skipped_steps": .int(m.skippedSteps),
        ]
        for (name, value) in objective.scheduleValues(at: max(globalIteration - 1, 0)) + m.evaluation { fields[name] = .double(value) }
        if let seconds = m.evaluationSeconds { fields["eval_s"] = .double(seconds) }
        let json = MetricValue.jsonObject(fields)
        metricsLines.append(json)
        try run.appendMetricsLine(json)
        let evaluation = m.evaluation.map { name, value in
            ", \(name) " + (name.hasSuffix("_acc") ? String(format: "%.2f%%", value * 100) : String(format: "%.4f", value))
        }.joined()
        let line = String(format: "epoch %d/%d: train loss %.4f ", m.epoch, config.train.epochs, m.trainLoss)
            + objective.accuracyName + String(format: " %.2f%%", m.trainAccuracy * 100) + evaluation + String(format: " (%.1f s, %.0f img/s)", m.seconds, m.imagesPerSecond)
        progress.finishEpoch(summary: line)
        try run.appendLog(line)
    }
}
