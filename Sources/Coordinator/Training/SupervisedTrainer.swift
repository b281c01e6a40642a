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
    let weightDecaySchedule: Schedule
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
        BatchReduction.configure(worldSize: world.size)
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
        weightDecaySchedule = ScheduleFactory.weightDecay(config, iterationsPerEpoch: iterationsPerEpoch)
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

    /// Where training starts: the beginning, or a restored `TrainState`.
    struct Position {
        var epoch = 0
        var batchInEpoch = 0
        var augmentation: RandomGenerator
        var epochSums = [0.0, 0.0, 0.0, 0.0]   // loss sum, correct, examples, skipped steps
    }
    private var start: Position?
    private var metricsLines: [String] = []
    private var store: CheckpointStore?

    /// Restores a checkpoint's state (every rank, from the same bytes). The model it holds
    /// must have this config's parameter names and shapes.
    public func restore(_ file: CheckpointFile) throws -> String {
        let state = try TrainState(from: file)
        let micro = config.train.accumulationSteps
        func refuse(_ what: String) -> CoordinatorError {
            CoordinatorError("checkpoint '\(file.source)' \(what); resume with the config the run was started with (its config.yaml)")
        }
        guard state.samplerSeed == UInt64(config.train.seed) else {
            throw refuse("was saved with train.seed \(state.samplerSeed), this config has \(config.train.seed)")
        }
        guard state.epoch <= config.train.epochs else {
            throw refuse("is at epoch \(state.epoch + 1), beyond this config's train.epochs \(config.train.epochs)")
        }
        guard state.batchInEpoch % micro == 0, state.batchInEpoch / micro <= iterationsPerEpoch,
              state.iteration == state.epoch * iterationsPerEpoch + state.batchInEpoch / micro else {
            throw refuse("is at iteration \(state.iteration) (epoch \(state.epoch + 1), batch \(state.batchInEpoch)), which does not match this config's \(iterationsPerEpoch) iterations per epoch of \(micro) micro-batch(es)")
        }
        for (name, t) in model.namedParameters() + model.namedBuffers() {
            guard let entry = try? file.entry("model." + name), entry.dtype == .f32, entry.shape == t.shape else {
                let found = (try? file.entry("model." + name)).map { "shape \($0.shape)" } ?? "no such entry"
                throw CoordinatorError("checkpoint '\(file.source)' holds a different model: '\(name)' is \(t.shape) in this config but \(found) there; resume with the config the run was started with (its config.yaml)")
            }
            let values = try file.floats("model." + name)
            values.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
        }
        var saved: [String: Tensor] = [:]
        for (name, _) in optimizer.namedState() {
            let e = try file.entry("optimizer." + name)
            saved[name] = Tensor(shape: e.shape, values: try file.floats("optimizer." + name))
        }
        do { try optimizer.loadState(saved) } catch {
            throw CoordinatorError("checkpoint '\(file.source)': \(error); it was saved with another optimizer configuration")
        }
        globalIteration = state.iteration
        nonFiniteSteps = state.nonFiniteSteps
        metricsLines = state.metricsLines
        var note = "resumed from \(file.source) at iteration \(state.iteration) (epoch \(state.epoch + 1), batch \(state.batchInEpoch))"
        if state.worldSize == world.size {
            start = Position(epoch: state.epoch, batchInEpoch: state.batchInEpoch, augmentation: state.augmentation[world.rank],
                             epochSums: state.epochSums[world.rank])
            let dropouts = Self.dropoutLayers(in: model)
            guard dropouts.count == state.dropout[world.rank].count else {
                throw refuse("holds \(state.dropout[world.rank].count) dropout stream(s), this model has \(dropouts.count) dropout layer(s)")
            }
            for (layer, rng) in zip(dropouts, state.dropout[world.rank]) { layer.rng = rng }
        } else {
            // Another world size: the global batch is kept (set by the caller), each rank's
            // streams are derived afresh, and the epoch's partial sums go to rank 0.
            let fresh = RandomGenerator(seed: UInt64(config.train.seed) &+ UInt64(state.iteration) &* 1_000_003, purpose: .augmentation,
                                        index: UInt64(world.rank))
            var sums = [0.0, 0.0, 0.0, 0.0]
            if world.rank == 0 {
                for r in state.epochSums { for i in 0..<3 { sums[i] += r[i] } }
                sums[3] = state.epochSums.first?[3] ?? 0   // every rank counts each skipped step
            }
            start = Position(epoch: state.epoch, batchInEpoch: state.batchInEpoch, augmentation: fresh, epochSums: sums)
            note += "; saved on \(state.worldSize) rank(s), now \(world.size): global batch \(config.train.batchSize * world.size) kept (\(config.train.batchSize) per rank), random streams re-derived, so the continuation is not bit-identical to an uninterrupted run"
        }
        if state.configHash != config.hash {
            note += "; the config differs from the checkpoint's (hash \(state.configHash) → \(config.hash))"
        }
        if let run { try run.rewriteMetrics(metricsLines) }
        return note
    }

    static func dropoutLayers(in module: any Module) -> [Dropout] {
        var out: [Dropout] = []
        if let d = module as? Dropout { out.append(d) }
        for (_, child) in module.children { out += dropoutLayers(in: child) }
        return out
    }

    /// Trains for `train.epochs` epochs (or `train.iterations` steps), evaluating every
    /// `train.eval_every` epochs and after the last; rank 0 writes metrics.jsonl lines,
    /// checkpoints (`checkpoint.*`; always when a stop signal arrives) and, at the end,
    /// `model.safetensors` and `checkpoints/final.ckpt`.
    /// - Throws: `TrainingStopped` after saving, when SIGTERM / SIGINT asked to stop.
    @discardableResult
    public func train() throws -> [EpochMetrics] {
        let epochs = config.train.epochs
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "OPENBLAS_CORETYPE unset"
        try run?.appendLog("model \(config.model.name.rawValue): \(model.parameterCount) parameters; \(world.size) rank(s) × "
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
            model.train()
            var sums = resuming ? begin.epochSums : [0.0, 0.0, 0.0, 0.0]   // loss sum, correct, examples, skipped
            let sampler = ShardedSampler(datasetCount: trainSet.count, rank: world.rank, worldSize: world.size,
                                         seed: UInt64(config.train.seed), epoch: epoch,
                                         padTail: config.distributed.shardTail == .pad)
            let loader = BatchLoader(dataset: trainSet, sampler: sampler, batchSize: config.train.batchSize / micro,
                                     dropLast: true, augmentation: augmentation, augment: config.data.augment, rng: augmentRNG,
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
                    let logits = model(batch.images)   // logits: [B/micro, classes]
                    let loss = logits.crossEntropy(targets: batch.labels, labelSmoothing: Float(config.train.labelSmoothing))
                    // backward (the reducer's hooks start allreduces as gradients become final)
                    let poisoned = fault?.fires(.nanGradient, step: globalIteration, rank: world.rank) ?? false
                    let seed = Tensor(shape: loss.shape, repeating: poisoned ? .nan : 1 / Float(micro))
                    loss.backward(gradient: seed)
                    sums[0] += Double(loss.item) * Double(batch.labels.count)
                    sums[1] += Double(Self.correctCount(logits, batch.labels))
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
                // schedule, log, checkpoint
                globalIteration += 1
                progress.update(iteration: globalIteration,
                                metrics: [("loss", sums[0] / max(sums[2], 1)), ("acc", sums[1] / max(sums[2], 1)), ("lr", lr)])
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
                                       trainAccuracy: totals[1] / max(totals[2], 1), testLoss: nil, testAccuracy: nil,
                                       learningRate: lr, seconds: seconds, imagesPerSecond: totals[3] / seconds,
                                       skippedSteps: Int(sums[3]))
            let every = config.train.evalEvery
            if every > 0 && ((epoch + 1) % every == 0 || epoch == epochs - 1 || globalIteration >= lastIteration) {
                let (testLoss, testAccuracy) = try evaluate(batchSize: config.train.batchSize)
                metrics.testLoss = testLoss
                metrics.testAccuracy = testAccuracy
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

    private func saveCheckpoint(epoch: Int, loader: BatchLoader, sums: [Double], wait: Bool) throws {
        try saveCheckpoint(epoch: epoch, batchInEpoch: loader.batchesDelivered, augmentation: loader.randomState, sums: sums, wait: wait)
    }

    /// Snapshots the state at this step boundary (every rank's streams and sums gathered to
    /// rank 0) and hands it to the background writer; the step waits only for the copy.
    private func saveCheckpoint(epoch: Int, batchInEpoch: Int, augmentation: RandomGenerator, sums: [Double], wait: Bool) throws {
        let startedAt = DispatchTime.now().uptimeNanoseconds
        let dropouts = Self.dropoutLayers(in: model).map(\.rng)
        let streams = try world.allgather(([augmentation] + dropouts).flatMap(Self.words))
        let allSums = try world.allgather(sums.map { Int64(bitPattern: $0.bitPattern) })
        guard let run, let store else { return }
        let perRank = 1 + dropouts.count
        let state = TrainState(
            iteration: globalIteration, epoch: epoch, batchInEpoch: batchInEpoch, samplerSeed: UInt64(config.train.seed),
            worldSize: world.size, globalBatch: config.train.batchSize * world.size,
            augmentation: streams.map { Self.generator($0, at: 0) },
            dropout: streams.map { words in (1..<perRank).map { Self.generator(words, at: $0) } },
            epochSums: allSums.map { $0.map { Double(bitPattern: UInt64(bitPattern: $0)) } },
            nonFiniteSteps: nonFiniteSteps, metricsLines: metricsLines, configHash: config.hash)
        let file = try state.checkpointFile(model: model.namedParameters() + model.namedBuffers(), optimizer: optimizer.namedState(),
                                            configYAML: config.yaml())
        let stall = Double(DispatchTime.now().uptimeNanoseconds - startedAt) / 1e6
        let slowly = fault?.fires(.slowCheckpoint, step: globalIteration, rank: world.rank) ?? false
        try store.save(file, iteration: globalIteration, slowly: slowly) { line in try? run.appendLog(line) }
        try run.appendLog(String(format: "checkpoint at iteration %d: the step waited %.1f ms for the snapshot", globalIteration, stall))
        if wait { try store.wait() }
    }

    static func words(_ g: RandomGenerator) -> [Int64] { [g.s0, g.s1, g.s2, g.s3].map { Int64(bitPattern: $0) } }

    static func generator(_ words: [Int64], at index: Int) -> RandomGenerator {
        var g = RandomGenerator(seed: 0)
        (g.s0, g.s1, g.s2, g.s3) = (UInt64(bitPattern: words[4 * index]), UInt64(bitPattern: words[4 * index + 1]),
                                    UInt64(bitPattern: words[4 * index + 2]), UInt64(bitPattern: words[4 * index + 3]))
        return g
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
        let json = MetricValue.jsonObject(fields)
        metricsLines.append(json)
        try run.appendMetricsLine(json)
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
        file.metadata = ["kind": "final", "iteration": String(globalIteration), "epochs": String(metricsLines.count),
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
