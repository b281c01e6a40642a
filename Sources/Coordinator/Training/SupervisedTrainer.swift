import Data
import Engine
import Foundation

/// Supervised training of a classifier on Fashion-MNIST in one process:
/// forward, backward, step, schedule, log, evaluate — once per epoch — and the final weights.
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
    }

    let config: TrainConfig
    let run: RunDirectory
    let progress: ProgressDisplay
    let model: any Module
    let optimizer: any Optimizer
    let schedule: Schedule
    let trainSet: FashionMNIST
    let testSet: FashionMNIST
    let iterationsPerEpoch: Int
    let augmentation: Augmentation
    /// Iterations completed across all epochs; the schedules are functions of it.
    public private(set) var globalIteration = 0
    public private(set) var history: [EpochMetrics] = []

    public init(config: TrainConfig, run: RunDirectory, progress: ((_ iterationsPerEpoch: Int) -> ProgressDisplay)? = nil) throws {
        self.config = config
        self.run = run
        Parallel.configure(threads: config.train.threads, convolutional: config.model.name != .mlp)
        trainSet = try FashionMNIST(split: .train, directory: config.data.path)
        testSet = try FashionMNIST(split: .test, directory: config.data.path)
        guard config.model.numClasses >= FashionMNIST.classCount else {
            throw CoordinatorError("model.num_classes \(config.model.numClasses) is smaller than the \(FashionMNIST.classCount) Fashion-MNIST classes; set it to at least \(FashionMNIST.classCount)")
        }
        guard trainSet.count >= config.train.batchSize else {
            throw CoordinatorError("train.batch_size \(config.train.batchSize) is larger than the \(trainSet.count) training images")
        }
        var rng = RandomGenerator(seed: UInt64(config.train.seed), purpose: .initialization)
        model = ModelFactory.make(config.model, rng: &rng)
        iterationsPerEpoch = trainSet.count / config.train.batchSize
        let baseLR = config.baseLR(worldSize: 1)
        optimizer = try OptimizerFactory.make(config.optimizer, parameters: model.namedParameters(), lr: baseLR)
        schedule = ScheduleFactory.learningRate(config, base: baseLR, iterationsPerEpoch: iterationsPerEpoch)
        self.progress = progress?(iterationsPerEpoch)
            ?? ProgressDisplay(mode: config.run.progress, iterationsPerEpoch: iterationsPerEpoch,
                               epochs: config.train.epochs, logEvery: config.run.logEvery)
        augmentation = Augmentation(padding: config.data.pad)
    }

    /// Trains for `train.epochs` epochs, evaluating every `train.eval_every` epochs and after
    /// the last; writes metrics.jsonl lines and, at the end, `model.safetensors`.
    @discardableResult
    public func train() throws -> [EpochMetrics] {
        let epochs = config.train.epochs
        var augmentRNG = RandomGenerator(seed: UInt64(config.train.seed), purpose: .augmentation, index: 0)   // rank 0
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "OPENBLAS_CORETYPE unset"
        try run.appendLog("model \(config.model.name.rawValue): \(model.parameterCount) parameters; \(iterationsPerEpoch) iterations/epoch; "
                          + "\(config.train.threads) thread(s); \(coreType) → OpenBLAS \(BLAS.coreName) kernels")
        for epoch in 0..<epochs {
            let start = Clock.now()
            model.train()
            var lossSum = 0.0, correct = 0, seen = 0
            let sampler = ShardedSampler(datasetCount: trainSet.count, rank: 0, worldSize: 1,
                                         seed: UInt64(config.train.seed), epoch: epoch)
            let loader = BatchLoader(dataset: trainSet, sampler: sampler, batchSize: config.train.batchSize, dropLast: true,
                                     augmentation: augmentation, augment: config.data.augment, rng: augmentRNG)
            defer { loader.stop() }
            var lr = 0.0
            while let batch = loader.next() {
                lr = schedule.value(at: globalIteration)
                optimizer.learningRate = Float(lr)
                // forward
                let logits = model(batch.images)   // logits: [B, classes]
                let loss = logits.crossEntropy(targets: batch.labels, labelSmoothing: Float(config.train.labelSmoothing))
                // backward, step
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                // log
                let b = batch.labels.count
                lossSum += Double(loss.item) * Double(b)
                correct += Self.correctCount(logits, batch.labels)
                seen += b
                globalIteration += 1
                progress.update(iteration: globalIteration,
                                metrics: [("loss", lossSum / Double(seen)), ("acc", Double(correct) / Double(seen)), ("lr", lr)])
            }
            augmentRNG = loader.randomState
            let seconds = Clock.now() - start
            var metrics = EpochMetrics(epoch: epoch + 1, trainLoss: lossSum / Double(max(seen, 1)),
                                       trainAccuracy: Double(correct) / Double(max(seen, 1)), testLoss: nil, testAccuracy: nil,
                                       learningRate: lr, seconds: seconds, imagesPerSecond: Double(seen) / seconds)
            if (epoch + 1) % config.train.evalEvery == 0 || epoch == epochs - 1 {
                let (testLoss, testAccuracy) = evaluate(batchSize: config.train.batchSize)
                metrics.testLoss = testLoss
                metrics.testAccuracy = testAccuracy
            }
            history.append(metrics)
            try record(metrics)
        }
        try saveWeights()
        return history
    }

    /// Mean loss and accuracy on the test split, in eval mode without recording. Training's
    /// batch size keeps the buffer pool's sizes shared with the training step.
    public func evaluate(batchSize: Int) -> (loss: Double, accuracy: Double) {
        model.eval()
        defer { model.train() }
        var lossSum = 0.0, correct = 0
        Autograd.noGrad {
            let loader = BatchLoader.evaluation(dataset: testSet, batchSize: batchSize, augmentation: augmentation)
            defer { loader.stop() }
            while let batch = loader.next() {
                let logits = model(batch.images)
                lossSum += Double(logits.crossEntropy(targets: batch.labels).item) * Double(batch.labels.count)
                correct += Self.correctCount(logits, batch.labels)
            }
        }
        return (lossSum / Double(testSet.count), Double(correct) / Double(testSet.count))
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
        var fields: [String: MetricValue] = [
            "epoch": .int(m.epoch), "iteration": .int(globalIteration), "train_loss": .double(m.trainLoss),
            "train_acc": .double(m.trainAccuracy), "lr": .double(m.learningRate), "epoch_s": .double(m.seconds),
            "images_per_s": .double(m.imagesPerSecond), "peak_rss_mib": .double(ThroughputBench.peakRSSMiB()),
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

    /// Writes parameters and buffers as `model.safetensors` in the run directory.
    func saveWeights() throws {
        let path = run.path + "/model.safetensors"
        var file = SafeTensors(source: path)
        for (name, t) in model.namedParameters() + model.namedBuffers() { file.set(name, t) }
        file.metadata = ["model": config.model.name.rawValue, "config_hash": config.hash, "epochs": String(config.train.epochs),
                         "test_acc": history.last?.testAccuracy.map { String($0) } ?? ""]
        try file.write(to: path)
    }
}
