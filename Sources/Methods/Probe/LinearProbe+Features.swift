import Datasets
import Engine
import MPI
import Persistence
import Training

/// The probe's features: the extractor, a random trunk's batch-norm statistics, and the
/// standardisation.
extension LinearProbe {
    /// The function from normalised images [B, 1, H, W] to features [B, D].
    func makeExtractor(_ extractor: Extractor, trainSet: ImageDataset) throws -> (Tensor) -> Tensor {
        if case .pixels = extractor { return { $0.reshaped([$0.shape[0], $0.count / $0.shape[0]]) } }
        var rng = RandomGenerator(seed: UInt64(config.train.seed), purpose: .initialization)
        let encoder = try MethodRegistry.probedEncoder(config, input: trainSet.shape, rng: &rng).encoder
        encoder.replicate(over: world)
        let method = config.train.method.rawValue
        switch extractor {
        case let .trunk(file):
            // The checkpoint's own config says where its encoder is and which method wrote it;
            // the probe's config must describe the same method and network.
            let written = try PretrainedEncoder.config(of: file).train.method
            guard written == config.train.method else {
                throw CheckpointError(file.source, "holds no \(method) encoder: a train.method \(written.rawValue) run wrote it; probe it with the config of that run")
            }
            _ = try PretrainedEncoder.load(PretrainedEncoder.tensors(from: file), into: encoder.namedParameters() + encoder.namedBuffers(),
                                           source: file.source)
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
    func reestimateBatchNorm(_ encoder: any FeatureEncoder, on dataset: ImageDataset, images: Int) throws {
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

}
