import Config
import Datasets
import Engine
import Foundation
import MPI
import Persistence
import Training

/// The linear evaluation of pre-trained features: a frozen feature extractor (a pre-trained
/// trunk in eval mode, a randomly initialised trunk, or the raw pixels), then a linear classifier
/// trained on its features, data-parallel, and its test top-1.
///
/// Protocol (the config's `probe:` section): features of the un-augmented images are
/// computed once, sharded across ranks, and standardised with the training set's mean and
/// standard deviation per feature; `Linear(D, 10)` is trained with SGD + momentum, one epoch
/// of linear warm-up then cosine to 0, no weight decay by default; each rank steps through
/// its shard in its own order with the `TrainingStep` training runs (gradients averaged
/// across ranks, the non-finite guard). The learning rate is picked from `probe.lrs` on
/// held-out training images (the last `probe.held_out`), then the classifier is trained again
/// on the whole training set: every extractor gets its best rate, as the MoCo linear
/// protocol's search does (its lr 30 suits unscaled features; standardised ones want far less).
///
/// ```swift
/// let probe = LinearProbe(config: config, world: world)
/// let result = try probe.run(extractor: .trunk(from: checkpoint))   // result.testAccuracy
/// ```
public struct LinearProbe {
    /// Where the features come from.
    public enum Extractor {
        /// The trunk of the encoder the config's method trains (`TrainingMethod.probedEncoder`),
        /// read from a checkpoint of that method by `PretrainedEncoder` (`model.encoder_q.*`
        /// for MoCo v2, `model.base_encoder.*` for MoCo v3, …).
        case trunk(from: CheckpointFile)
        /// The same architecture, randomly initialised from `train.seed`; its batch-norm
        /// statistics are re-estimated on 10,000 training images so the features are scaled
        /// as a trained network's would be.
        case randomTrunk
        /// The normalised pixels, 784 features.
        case pixels

        /// How results name it: the pre-training method for a trained trunk (`moco`, `simclr`, …).
        func name(method: TrainConfig.TrainMethod) -> String {
            switch self {
            case .trunk: return method.rawValue
            case .randomTrunk: return "random"
            case .pixels: return "pixels"
            }
        }
    }

    /// `concord probe --init`: the trunk's weights, the pre-trained encoder of a checkpoint
    /// (`checkpoint`, with `--checkpoint`) or `random` (`Extractor.randomTrunk`).
    public enum Initialization: String, CaseIterable, Sendable { case checkpoint, random }

    /// `concord probe --features`: what the classifier sees, the trunk's pooled features
    /// (`trunk`) or the normalised `pixels`.
    public enum Features: String, CaseIterable, Sendable { case trunk, pixels }

    /// Why the command line's choices do not name one extractor, or nil when they do.
    public static func choiceProblem(features: Features, initialization: Initialization, checkpoint: String?) -> String? {
        switch (features, initialization, checkpoint) {
        case (.trunk, .checkpoint, nil):
            return "--checkpoint CKPT is needed for the trained trunk (or use --init random, or --features pixels)"
        case (.pixels, _, .some), (.trunk, .random, .some):
            return "--checkpoint is not used with \(features == .pixels ? "--features pixels" : "--init random"); drop one of them"
        default:
            return nil
        }
    }

    /// The extractor the command line's choices name: the pixels, a random trunk, or the
    /// trunk of the checkpoint at `checkpoint` (read and verified here).
    public static func extractor(features: Features, initialization: Initialization, checkpoint: String?) throws -> Extractor {
        if let problem = choiceProblem(features: features, initialization: initialization, checkpoint: checkpoint) {
            throw TrainingError(problem)
        }
        if features == .pixels { return .pixels }
        guard initialization == .checkpoint, let checkpoint else { return .randomTrunk }
        return .trunk(from: try CheckpointFile(contentsOf: checkpoint))
    }

    /// What a probe measured.
    public struct Result {
        public var extractor: String
        public var featureCount: Int
        public var epochs: Int
        /// The peak learning rate used.
        public var learningRate: Double
        /// Each candidate learning rate with its held-out accuracy (empty without selection).
        public var selection: [(lr: Double, heldOutAccuracy: Double)]
        public var trainAccuracy: Double
        public var testAccuracy: Double
        public var seconds: Double

        /// One JSON object, as `concord probe` prints it and appends to `probe.jsonl`.
        public var json: String {
            MetricValue.jsonObject(["probe": .string(extractor), "features": .int(featureCount), "epochs": .int(epochs),
                                    "lr": .double(learningRate),
                                    "held_out_acc": .string(selection.map { "\($0.lr): " + String(format: "%.4f", $0.heldOutAccuracy) }.joined(separator: ", ")),
                                    "train_acc": .double(trainAccuracy),
                                    "test_acc": .double(testAccuracy), "seconds": .double(seconds)])
        }
    }

    let config: TrainConfig
    let world: Communicator

    public init(config: TrainConfig, world: Communicator = .single()) {
        self.config = config
        self.world = world
    }

    /// Extracts the features, trains the classifier and evaluates it; `log` receives a line
    /// every tenth of the epochs (rank 0 only).
    public func run(extractor: Extractor, log: (String) -> Void = { _ in }) throws -> Result {
        let startedAt = MonotonicClock.seconds()
        ProcessSetup.configure(threads: config.train.threads, model: config.model.name)
        let data = try TrainingData(config: config, world: world)
        let (trainSet, testSet) = (data.train, data.test)
        let p = config.probe
        guard p.heldOut + p.batchSize * world.size <= trainSet.count else {
            throw TrainingError("probe.held_out \(p.heldOut) leaves fewer than probe.batch_size \(p.batchSize) training images per rank to fit on; lower it (5000 is plenty)")
        }
        let extract = try makeExtractor(extractor, trainSet: trainSet)
        let batch = config.train.batchSize
        let train = FeatureBank.shard(of: trainSet, world: world, batchSize: batch, extract: extract)   // features: [n_r, D]
        let test = FeatureBank.shard(of: testSet, world: world, batchSize: batch, extract: extract)
        let width = train.features.shape[1]

        // The learning rate: the best of the candidates on the held-out images, standardised
        // with the statistics of the rows fitted on (the held-out ones play the test set).
        var chosen = p.lrs[0]
        var selection: [(lr: Double, heldOutAccuracy: Double)] = []
        if p.lrs.count > 1 && p.heldOut > 0 {
            let (fitSet, heldSet) = split(train, heldOut: p.heldOut, datasetCount: trainSet.count)
            let (mean, std) = try statistics(fitSet.features)
            standardize(fitSet.features, mean: mean, std: std)
            standardize(heldSet.features, mean: mean, std: std)
            for lr in p.lrs {
                let classifier = try fit(fitSet, classes: trainSet.classCount, lr: lr, log: { _ in })
                let heldOutAccuracy = try accuracy(classifier, heldSet)
                selection.append((lr, heldOutAccuracy))
                if world.rank == 0 { log("probe \(extractor.name(method: config.train.method)): lr \(lr) reaches " + String(format: "%.2f%%", heldOutAccuracy * 100) + " on the \(p.heldOut) held-out images") }
            }
            chosen = selection.max { $0.heldOutAccuracy < $1.heldOutAccuracy }?.lr ?? chosen
        }
        let (mean, std) = try statistics(train.features)
        standardize(train.features, mean: mean, std: std)
        standardize(test.features, mean: mean, std: std)
        let classifier = try fit(train, classes: trainSet.classCount, lr: chosen) { line in if world.rank == 0 { log("probe \(extractor.name(method: config.train.method)): " + line) } }
        return Result(extractor: extractor.name(method: config.train.method), featureCount: width, epochs: p.epochs, learningRate: chosen, selection: selection,
                      trainAccuracy: try accuracy(classifier, train), testAccuracy: try accuracy(classifier, test),
                      seconds: MonotonicClock.seconds() - startedAt)
    }

    /// Appends `result` to `probe.jsonl` in the config's run directory when that exists
    /// (rank 0 only: the others return at once).
    public func record(_ result: Result) throws {
        guard world.rank == 0, FileManager.default.fileExists(atPath: config.run.dir) else { return }
        try RunDirectory(path: config.run.dir).appendRecord(result.json, toFile: "probe.jsonl")
    }

    /// The rows of every rank's share whose images are among the last `heldOut` of the data
    /// set (shares are in evaluation order: rank r's row i is image r + i·N), and the rest.
    func split(_ set: (features: Tensor, labels: [Int]), heldOut: Int, datasetCount: Int)
        -> (fit: (features: Tensor, labels: [Int]), held: (features: Tensor, labels: [Int])) {
        let width = set.features.shape[1]
        var fit: ([Float], [Int]) = ([], []), held: ([Float], [Int]) = ([], [])
        for (i, label) in set.labels.enumerated() {
            let row = UnsafeBufferPointer(start: set.features.data + i * width, count: width)
            if world.rank + i * world.size >= datasetCount - heldOut {
                held.0 += row; held.1.append(label)
            } else {
                fit.0 += row; fit.1.append(label)
            }
        }
        return ((Tensor(shape: [fit.1.count, width], values: fit.0), fit.1), (Tensor(shape: [held.1.count, width], values: held.0), held.1))
    }
}
