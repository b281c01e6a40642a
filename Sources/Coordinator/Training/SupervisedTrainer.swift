import Data
import Engine
import Foundation
import MPI

/// Supervised training of a classifier on Fashion-MNIST, data-parallel over the ranks of a
/// communicator (one process is rank 0 of 1): forward, backward, reduce, step, schedule, log,
/// evaluate — once per epoch — and the final weights.
///
/// Every rank builds the same model from the seed; rank 0's values are broadcast and the
/// names and shapes checked. Each rank trains on its shard of each epoch's permutation with
/// its own augmentation stream; gradients are averaged by the `GradientReducer`, so N ranks
/// with batch B train like one process with batch N·B. Only rank 0 writes the run directory
/// and shows progress.
public final class SupervisedTrainer {
    public struct EpochMetrics {
        public var epoch: Int
        public var trainLoss: Double
        public var trainAccuracy: Double
        public var testLoss: Double?
        public var testAccuracy: Double?
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
    let model: any Module
    let optimizer: any Optimizer
    let reducer: GradientReducer
    let schedule: Schedule
    let trainSet: FashionMNIST
    let testSet: FashionMNIST
    let iterationsPerEpoch: Int
    let augmentation: Augmentation
    let fault: FaultInjection?
    /// Iterations completed across all epochs; the schedules are functions of it.
    public private(set) var globalIteration = 0
    public private(set) var history: [EpochMetrics] = []
    /// Steps skipped on every rank because some rank's gradients were not finite.
    public private(set) var nonFiniteSteps = 0

    /// - Parameters:
    ///   - run: the run directory on rank 0, nil on the other ranks.
    public init(config: TrainConfig, run: RunDirectory?, world: Communicator = .single(),
                progress: ((_ iterationsPerEpoch: Int) -> ProgressDisplay)? = nil) throws {
        self.config = config
        self.run = run
        self.world = world
        fault = try FaultInjection.fromEnvironment()
        Parallel.configure(threads: config.train.threads, convolutional: config.model.name != .mlp)
        trainSet = try FashionMNIST(split: .train, directory: config.data.path)
        testSet = try FashionMNIST(split: .test, directory: config.data.path)
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
        model = ModelFactory.make(config.model, rng: &rng)
        if config.distributed.syncBatchNorm && world.isDistributed {
            let sum = CommunicatorSum(communicator: world)
            Self.forEachBatchNorm(in: model) { $0.crossReplica = sum }
        }
        // Bucket cap in bytes, kept between one value and 1 GiB whatever the config says.
        let capBytes = Int(min(max(config.distributed.bucketCapMB * 1_048_576, 4), 1_073_741_824))
        reducer = try GradientReducer(parameters: model.namedParameters(), communicator: world, bucketCapBytes: capBytes)
        try reducer.synchronize(model.namedParameters() + model.namedBuffers())
        iterationsPerEpoch = shard / config.train.batchSize
        let baseLR = config.baseLR(worldSize: world.size)
        optimizer = try OptimizerFactory.make(config.optimizer, parameters: model.namedParameters(), lr: baseLR)
        schedule = ScheduleFactory.learningRate(config, base: baseLR, iterationsPerEpoch: iterationsPerEpoch)
        let mode: ProgressMode = world.rank == 0 ? config.run.progress : .none
        self.progress = progress?(iterationsPerEpoch)
            ?? ProgressDisplay(mode: mode, iterationsPerEpoch: iterationsPerEpoch,
                               epochs: config.train.epochs, logEvery: config.run.logEvery)
        augmentation = Augmentation(padding: config.data.pad)
    }

    static func forEachBatchNorm(in module: any Module, _ body: (BatchNorm) -> Void) {
        if let bn = module as? BatchNorm { body(bn) }
        for (_, child) in module.children { forEachBatchNorm(in: child, body) }
    }

    /// Total optimizer steps this run takes.
    var lastIteration: Int {
        let full = iterationsPerEpoch * config.train.epochs
        return config.train.iterations > 0 ? min(config.train.iterations, full) : full
    }

    /// Trains for `train.epochs` epochs (or `train.iterations` steps), evaluating every
    /// `train.eval_every` epochs and after the last; rank 0 writes metrics.jsonl lines and, at
    /// the end, `model.safetensors`.
    @discardableResult
    public func train() throws -> [EpochMetrics] {
        let epochs = config.train.epochs
        var augmentRNG = RandomGenerator(seed: UInt64(config.train.seed), purpose: .augmentation, index: UInt64(world.rank))
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "OPENBLAS_CORETYPE unset"
        try run?.appendLog("model \(config.model.name.rawValue): \(model.parameterCount) parameters; \(world.size) rank(s) × "
                           + "\(config.train.batchSize) images; \(iterationsPerEpoch) iterations/epoch; \(reducer.bucketSizes.count) gradient bucket(s); "
                           + "\(config.train.threads) thread(s) per rank; \(coreType) → OpenBLAS \(BLAS.coreName) kernels; "
                           + "convolutions \(ShiftedGemm.kernels.rawValue)"
                           + (config.distributed.syncBatchNorm && world.isDistributed ? "; SyncBatchNorm" : ""))
        let micro = config.train.accumulationSteps
        for epoch in 0..<epochs where globalIteration < lastIteration {
            let start = Clock.now()
            model.train()
            var lossSum = 0.0, correct = 0, seen = 0, skipped = 0
            let sampler = ShardedSampler(datasetCount: trainSet.count, rank: world.rank, worldSize: world.size,
                                         seed: UInt64(config.train.seed), epoch: epoch,
                                         padTail: config.distributed.shardTail == .pad)
            let loader = BatchLoader(dataset: trainSet, sampler: sampler, batchSize: config.train.batchSize / micro,
                                     dropLast: true, augmentation: augmentation, augment: config.data.augment, rng: augmentRNG)
            defer { loader.stop() }
            var lr = 0.0
            while globalIteration < lastIteration && (globalIteration - epoch * iterationsPerEpoch) < iterationsPerEpoch {
                lr = schedule.value(at: globalIteration)
                optimizer.learningRate = Float(lr)
                optimizer.zeroGrad()
                if fault?.fires(.skipStep, step: globalIteration, rank: world.rank) ?? false {
                    // The injected fault: this rank leaves out the whole step, collectives included.
                    for _ in 0..<micro { _ = loader.next() }
                    FileHandle.standardError.write(Data("concord: rank \(world.rank): fault injection: skipping step \(globalIteration)\n".utf8))
                    globalIteration += 1
                    continue
                }
                for m in 0..<micro {
                    guard let batch = loader.next() else {
                        throw CoordinatorError("the loader ran out of batches in the middle of step \(globalIteration) (micro-batch \(m + 1) of \(micro)); this is a bug, please report it with the config")
                    }
                    try reducer.beginStep(globalIteration, microBatch: m, of: micro)
                    // forward
                    let logits = model(batch.images)   // logits: [B/micro, classes]
                    let loss = logits.crossEntropy(targets: batch.labels, labelSmoothing: Float(config.train.labelSmoothing))
                    // backward (the reducer's hooks start allreduces as gradients become final)
                    let poisoned = fault?.fires(.nanGradient, step: globalIteration, rank: world.rank) ?? false
                    let seed = Tensor(shape: loss.shape, repeating: poisoned ? .nan : 1 / Float(micro))
                    loss.backward(gradient: seed)
                    let b = batch.labels.count
                    lossSum += Double(loss.item) * Double(b)
                    correct += Self.correctCount(logits, batch.labels)
                    seen += b
                }
                // reduce, step
                let reduced = try reducer.finish()
                if reduced.nonFinite {
                    try skipNonFiniteStep(here: reduced.nonFiniteHere)
                    skipped += 1
                } else {
                    optimizer.step()
                }
                // schedule, log
                globalIteration += 1
                progress.update(iteration: globalIteration,
                                metrics: [("loss", lossSum / Double(max(seen, 1))), ("acc", Double(correct) / Double(max(seen, 1))), ("lr", lr)])
            }
            augmentRNG = loader.randomState
            // Training metrics over every rank's examples.
            var totals = [lossSum, Double(correct), Double(seen)]
            try totals.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
            let seconds = Clock.now() - start
            var metrics = EpochMetrics(epoch: epoch + 1, trainLoss: totals[0] / max(totals[2], 1),
                                       trainAccuracy: totals[1] / max(totals[2], 1), testLoss: nil, testAccuracy: nil,
                                       learningRate: lr, seconds: seconds, imagesPerSecond: totals[2] / seconds,
                                       skippedSteps: skipped)
            let every = config.train.evalEvery
            if every > 0 && ((epoch + 1) % every == 0 || epoch == epochs - 1 || globalIteration >= lastIteration) {
                let (testLoss, testAccuracy) = try evaluate(batchSize: config.train.batchSize)
                metrics.testLoss = testLoss
                metrics.testAccuracy = testAccuracy
            }
            history.append(metrics)
            try record(metrics)
        }
        try run?.appendLog("\(globalIteration) iterations, \(reducer.reductions) gradient reductions, \(nonFiniteSteps) skipped for non-finite gradients")
        if world.rank == 0 {
            try saveWeights()
            try saveFinalCheckpoint()
        }
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

    /// Mean loss and accuracy on the test split, in eval mode without recording. Rank 0's
    /// running statistics are broadcast first; each rank evaluates its shard and the sums are
    /// all-reduced. Training's batch size keeps the buffer pool's sizes shared with the step.
    public func evaluate(batchSize: Int) throws -> (loss: Double, accuracy: Double) {
        for (_, buffer) in model.namedBuffers() {
            try world.broadcast(UnsafeMutableBufferPointer(start: buffer.data, count: buffer.count), root: 0)
        }
        model.eval()
        defer { model.train() }
        var totals = [0.0, 0.0, 0.0]   // loss sum, correct, examples
        Autograd.noGrad {
            let loader = BatchLoader.evaluation(dataset: testSet, rank: world.rank, worldSize: world.size,
                                                batchSize: batchSize, augmentation: augmentation)
            defer { loader.stop() }
            while let batch = loader.next() {
                let logits = model(batch.images)
                totals[0] += Double(logits.crossEntropy(targets: batch.labels).item) * Double(batch.labels.count)
                totals[1] += Double(Self.correctCount(logits, batch.labels))
                totals[2] += Double(batch.labels.count)
            }
        }
        try totals.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        return (totals[0] / totals[2], totals[1] / totals[2])
    }

    static func correctCount(_ logits: Tensor, _ labels: [Int]) -> Int {
        let c = logits.shape[1]
        var correct = 0
        for (r, label) in labels.enumerated() {
            let row = logits.data + r * c
            var best = 0
            for j in 1..<c where row[j] > row[best] { best = j }
            if best == label { correct += 1 }
        }
        return correct
    }

    func record(_ m: EpochMetrics) throws {
        guard let run else { return }
        var fields: [String: MetricValue] = [
            "epoch": .int(m.epoch), "iteration": .int(globalIteration), "train_loss": .double(m.trainLoss),
            "train_acc": .double(m.trainAccuracy), "lr": .double(m.learningRate), "epoch_s": .double(m.seconds),
            "images_per_s": .double(m.imagesPerSecond), "peak_rss_mib": .double(ThroughputBench.peakRSSMiB()),
            "ranks": .int(world.size), "skipped_steps": .int(m.skippedSteps),
        ]
        if let l = m.testLoss { fields["test_loss"] = .double(l) }
        if let a = m.testAccuracy { fields["test_acc"] = .double(a) }
        try run.appendMetrics(fields)
        let test = m.testAccuracy.map { String(format: ", test loss %.4f acc %.2f%%", m.testLoss ?? 0, $0 * 100) } ?? ""
        let line = String(format: "epoch %d/%d: train loss %.4f acc %.2f%%", m.epoch, config.train.epochs, m.trainLoss, m.trainAccuracy * 100)
            + test + String(format: " (%.1f s, %.0f img/s)", m.seconds, m.imagesPerSecond)
        progress.finishEpoch(summary: line)
        try run.appendLog(line)
    }

    /// Writes `checkpoints/final.ckpt`: parameters and buffers (`model.<name>`), optimizer
    /// state (`optimizer.<name>`), the resolved config and where the run stopped.
    func saveFinalCheckpoint() throws {
        guard let run else { return }
        try FileManager.default.createDirectory(atPath: run.checkpointsPath, withIntermediateDirectories: true)
        var file = CheckpointFile()
        for (name, t) in model.namedParameters() + model.namedBuffers() { file.set("model." + name, floats: t.values, shape: t.shape) }
        for (name, t) in optimizer.namedState() { file.set("optimizer." + name, floats: t.values, shape: t.shape) }
        file.set("config.yaml", bytes: Array(config.yaml().utf8))
        file.metadata = ["kind": "final", "iteration": String(globalIteration), "epochs": String(history.count),
                         "config_hash": config.hash, "world_size": String(world.size), "model": config.model.name.rawValue]
        let sizes = try file.write(to: run.checkpointsPath + "/final.ckpt")
        try run.appendLog(String(format: "checkpoints/final.ckpt: %d bytes of state stored in %d (%.3f×)", sizes.rawBytes, sizes.storedBytes, sizes.ratio))
    }

    /// Writes parameters and buffers as `model.safetensors` in the run directory.
    func saveWeights() throws {
        guard let run else { return }
        let path = run.path + "/model.safetensors"
        var file = SafeTensors(source: path)
        for (name, t) in model.namedParameters() + model.namedBuffers() { file.set(name, t) }
        file.metadata = ["model": config.model.name.rawValue, "config_hash": config.hash, "epochs": String(config.train.epochs),
                         "iterations": String(globalIteration), "ranks": String(world.size),
                         "test_acc": history.last?.testAccuracy.map { String($0) } ?? ""]
        try file.write(to: path)
    }
}
