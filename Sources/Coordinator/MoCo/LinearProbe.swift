import Data
import Engine
import Foundation
import MPI

/// The linear evaluation of pre-trained features: a frozen feature extractor (a MoCo trunk in
/// eval mode, a randomly initialised trunk, or the raw pixels), then a linear classifier
/// trained on its features, data-parallel, and its test top-1.
///
/// Protocol (the config's `probe:` section): features of the un-augmented images are
/// computed once, sharded across ranks, and standardised with the training set's mean and
/// standard deviation per feature; `Linear(D, 10)` is trained with SGD + momentum, one epoch
/// of linear warm-up then cosine to 0, no weight decay by default; each rank steps through
/// its shard in its own order and gradients are averaged (`GradientReducer`). The learning
/// rate is picked from `probe.lrs` on held-out training images (the last `probe.held_out`),
/// then the classifier is trained again on the whole training set: every extractor gets its
/// best rate, as the MoCo linear protocol's search does (its lr 30 suits unscaled features;
/// standardised ones want far less).
///
/// ```swift
/// let probe = LinearProbe(config: config, world: world)
/// let result = try probe.run(extractor: .trunk(from: checkpoint))   // result.testAccuracy
/// ```
public struct LinearProbe {
    /// Where the features come from.
    public enum Extractor {
        /// The query encoder's trunk saved in a MoCo checkpoint (`model.encoder_q.*`).
        case trunk(from: CheckpointFile)
        /// The same architecture, randomly initialised from `train.seed`; its batch-norm
        /// statistics are re-estimated on 10,000 training images so the features are scaled
        /// as a trained network's would be.
        case randomTrunk
        /// The normalised pixels, 784 features.
        case pixels

        var name: String {
            switch self {
            case .trunk: return "moco"
            case .randomTrunk: return "random"
            case .pixels: return "pixels"
            }
        }
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
        let startedAt = Clock.now()
        Parallel.configure(threads: config.train.threads, convolutional: true)
        BatchReduction.configure(worldSize: world.size)
        let trainSet = try FashionMNIST(split: .train, directory: config.data.path)
        let testSet = try FashionMNIST(split: .test, directory: config.data.path)
        let p = config.probe
        guard p.heldOut + p.batchSize * world.size <= trainSet.count else {
            throw CoordinatorError("probe.held_out \(p.heldOut) leaves fewer than probe.batch_size \(p.batchSize) training images per rank to fit on; lower it (5000 is plenty)")
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
                let classifier = try fit(fitSet, lr: lr, log: { _ in })
                let heldOutAccuracy = try accuracy(classifier, heldSet)
                selection.append((lr, heldOutAccuracy))
                if world.rank == 0 { log("probe \(extractor.name): lr \(lr) reaches " + String(format: "%.2f%%", heldOutAccuracy * 100) + " on the \(p.heldOut) held-out images") }
            }
            chosen = selection.max { $0.heldOutAccuracy < $1.heldOutAccuracy }?.lr ?? chosen
        }
        let (mean, std) = try statistics(train.features)
        standardize(train.features, mean: mean, std: std)
        standardize(test.features, mean: mean, std: std)
        let classifier = try fit(train, lr: chosen) { line in if world.rank == 0 { log("probe \(extractor.name): " + line) } }
        return Result(extractor: extractor.name, featureCount: width, epochs: p.epochs, learningRate: chosen, selection: selection,
                      trainAccuracy: try accuracy(classifier, train), testAccuracy: try accuracy(classifier, test),
                      seconds: Clock.now() - startedAt)
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

    /// A linear classifier trained on `set` (every rank its share) at peak rate `lr`.
    func fit(_ set: (features: Tensor, labels: [Int]), lr: Double, log: (String) -> Void) throws -> Linear {
        let width = set.features.shape[1]
        var rng = RandomGenerator(seed: UInt64(config.train.seed), purpose: .initialization, index: 1)
        let classifier = Linear(width, FashionMNIST.classCount, rng: &rng)
        let parameters = classifier.namedParameters()
        let reducer = try GradientReducer(parameters: parameters, communicator: world, bucketCapBytes: 1 << 20)
        try reducer.synchronize(parameters)
        let p = config.probe
        let optimizer = SGD(groups: [ParameterGroup(name: "linear", parameters: parameters, weightDecay: Float(p.weightDecay))],
                            lr: Float(lr), momentum: Float(p.momentum))
        let smallestShard = try world.allgather([Int64(set.labels.count)]).map { Int($0[0]) }.min() ?? 0
        let perEpoch = smallestShard / p.batchSize
        guard perEpoch >= 1 else {
            throw CoordinatorError("probe.batch_size \(p.batchSize) is larger than the \(smallestShard) training images of each of \(world.size) rank(s); lower it")
        }
        let schedule = Schedule(base: lr, segments: [.linearWarmup(iterations: perEpoch, startFactor: 0.1),
                                                     .cosine(iterations: max(perEpoch * (p.epochs - 1), 1), final: 0)])
        let x = Tensor(uninitializedShape: [p.batchSize, width])   // x: [B, D]
        var iteration = 0
        for epoch in 0..<p.epochs {
            var shuffle = RandomGenerator(seed: UInt64(config.train.seed), purpose: .samplerEpoch,
                                          index: UInt64(epoch * world.size + world.rank))
            let order = shuffle.permutation(set.labels.count)
            for step in 0..<perEpoch {
                let rows = order[(step * p.batchSize)..<((step + 1) * p.batchSize)]
                for (j, row) in rows.enumerated() { (x.data + j * width).update(from: set.features.data + row * width, count: width) }
                optimizer.learningRate = Float(schedule.value(at: iteration))
                optimizer.zeroGrad()
                try reducer.beginStep(iteration)
                let loss = classifier(x).crossEntropy(targets: rows.map { set.labels[$0] })   // logits: [B, 10]
                loss.backward()
                _ = try reducer.finish()
                optimizer.step()
                iteration += 1
            }
            if (epoch + 1) % max(p.epochs / 5, 1) == 0 || epoch == p.epochs - 1 {
                log("lr \(lr): epoch \(epoch + 1)/\(p.epochs)")
            }
        }
        return classifier
    }

    /// The function from normalised images [B, 1, H, W] to features [B, D].
    func makeExtractor(_ extractor: Extractor, trainSet: FashionMNIST) throws -> (Tensor) -> Tensor {
        if case .pixels = extractor { return { $0.reshaped([$0.shape[0], $0.count / $0.shape[0]]) } }
        guard let depth = config.model.name.cifarDepth else {
            throw CoordinatorError("the probe's trunk is a CIFAR-style ResNet; model.name \(config.model.name.rawValue) is not one: use the MoCo run's config (resnet20, resnet32 or resnet56)")
        }
        var rng = RandomGenerator(seed: UInt64(config.train.seed), purpose: .initialization)
        let encoder = MoCoModel.encoder(depth: depth, width: config.model.width, hidden: config.moco.headHidden, dim: config.moco.dim, rng: &rng)
        switch extractor {
        case let .trunk(file):
            for (name, t) in encoder.namedParameters() + encoder.namedBuffers() {
                let key = "model.encoder_q." + name
                guard let entry = try? file.entry(key), entry.dtype == .f32, entry.shape == t.shape else {
                    throw CoordinatorError("checkpoint '\(file.source)' holds no MoCo query encoder matching this config ('\(key)' \(t.shape) is missing or shaped differently); pass a checkpoint of a train.method moco run with the same model.name, model.width, moco.dim and moco.head_hidden")
                }
                let values = try file.floats(key)
                values.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
            }
        case .randomTrunk:
            try reestimateBatchNorm(encoder, on: trainSet, images: 10_000)
        case .pixels:
            break
        }
        encoder.eval()
        return { encoder.features($0) }
    }

    /// Running statistics = the plain average over the first `images` training images of
    /// each batch's statistics (momentum 1/(t + 1) at batch t); the same on every rank.
    func reestimateBatchNorm(_ encoder: ResNet, on dataset: FashionMNIST, images: Int) throws {
        let norms = encoder.layers(of: BatchNorm.self)
        let saved = norms.map(\.momentum)
        defer { for (bn, m) in zip(norms, saved) { bn.momentum = m } }
        encoder.train()
        let loader = BatchLoader.evaluation(dataset: dataset, batchSize: config.train.batchSize)
        defer { loader.stop() }
        var seen = 0, t = 0
        Autograd.noGrad {
            while seen < images, let batch = loader.next() {
                for bn in norms { bn.momentum = 1 / Float(t + 1) }
                _ = encoder.features(batch.images)
                seen += batch.count
                t += 1
            }
        }
    }

    /// Per-feature mean and standard deviation over every rank's rows (1 where a feature is constant).
    func statistics(_ features: Tensor) throws -> (mean: [Float], std: [Float]) {
        let (n, d) = (features.shape[0], features.shape[1])
        var sums = [Double](repeating: 0, count: 2 * d + 1)   // Σx [D], Σx² [D], count
        for r in 0..<n {
            let row = features.data + r * d
            for j in 0..<d { sums[j] += Double(row[j]); sums[d + j] += Double(row[j]) * Double(row[j]) }
        }
        sums[2 * d] = Double(n)
        try sums.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        let count = max(sums[2 * d], 1)
        var mean = [Float](repeating: 0, count: d), std = [Float](repeating: 1, count: d)
        for j in 0..<d {
            let m = sums[j] / count
            let v = max(sums[d + j] / count - m * m, 0)
            mean[j] = Float(m)
            if v > 1e-12 { std[j] = Float(v.squareRoot()) }
        }
        return (mean, std)
    }

    func standardize(_ features: Tensor, mean: [Float], std: [Float]) {
        let d = mean.count
        for r in 0..<features.shape[0] {
            let row = features.data + r * d
            for j in 0..<d { row[j] = (row[j] - mean[j]) / std[j] }
        }
    }

    /// Top-1 of `classifier` on the rows of every rank's share.
    func accuracy(_ classifier: Linear, _ set: (features: Tensor, labels: [Int])) throws -> Double {
        var counts = [0.0, Double(set.labels.count)]
        Autograd.noGrad {
            let chunk = 1024
            var first = 0
            while first < set.labels.count {
                let rows = min(chunk, set.labels.count - first)
                let width = set.features.shape[1]
                let x = Tensor(shape: [rows, width], values: Array(UnsafeBufferPointer(start: set.features.data + first * width, count: rows * width)))
                counts[0] += Double(SupervisedObjective.correctCount(classifier(x), Array(set.labels[first..<(first + rows)])))
                first += rows
            }
        }
        try counts.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        return counts[0] / max(counts[1], 1)
    }
}
