import Config
import Datasets
import Engine
import MPI
import Training

/// `train.method: simclr` — SimCLR pre-training (the `simclr:` section) with the `views:`
/// augmentations, watched by the kNN monitor (`knn:`).
public enum SimCLR: TrainingMethod {
    public static let name = TrainConfig.TrainMethod.simclr

    public static func objective(_ context: MethodContext, rng: inout RandomGenerator) throws -> any TrainingObjective {
        try SimCLRObjective(context, rng: &rng)
    }

    /// The encoder (trunk and projector).
    public static func probedEncoder(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String) {
        guard let depth = config.model.name.cifarDepth else {
            throw TrainingError("a SimCLR trunk is a CIFAR-style ResNet; model.name \(config.model.name.rawValue) is not one: use the SimCLR run's config (resnet20, resnet32 or resnet56)")
        }
        let encoder = ResNet.cifarEncoder(depth: depth, width: config.model.width, inputChannels: input.channels, hidden: config.simclr.headHidden,
                                          dim: config.simclr.dim, rng: &rng)
        return (encoder, "model.")
    }
}

/// SimCLR as a `Trainer` objective: both views of each image pass through one encoder (a
/// ResNet trunk and its MLP projector) as a batch of 2B; the embeddings of every rank are
/// gathered in global position order (`gatheredAcrossReplicas`), and every rank computes
/// NT-Xent over the whole 2·B·N batch — the loss one process would compute on it — and hands
/// the gradient of its own rows back into its encoder. With `simclr.batch_norm: sync` the
/// encoder's statistics span the global batch too, so N ranks train exactly like one process.
///
/// The reported "accuracy" is the instance accuracy: the share of first views whose second
/// view is the nearest of the other 2·B·N − 1 embeddings.
final class SimCLRObjective: TrainingObjective {
    let encoder: ResNet
    let gather: CommunicatorGather?
    let temperature: Float
    let monitor: KNNMonitor?
    let views: ContrastiveAugmentation?
    let evaluationEvery: Int
    let trunk: String
    let batchNorm: TrainConfig.ReplicaBatchNorm
    let world: Communicator

    init(_ context: MethodContext, rng: inout RandomGenerator) throws {
        let config = context.config, simclr = config.simclr
        guard let depth = config.model.name.cifarDepth else {
            throw TrainingError("train.method simclr needs a CIFAR-style ResNet trunk; model.name \(config.model.name.rawValue) is not one: set it to resnet20, resnet32 or resnet56")
        }
        guard config.train.accumulationSteps == 1 else {
            throw TrainingError("train.method simclr contrasts each step's whole batch at once and does not split a step: set train.accumulation_steps to 1")
        }
        guard !config.distributed.syncBatchNorm else {
            throw TrainingError("distributed.sync_batch_norm is for supervised and MoCo v2 runs; SimCLR's batch norm is simclr.batch_norm (sync by default): remove the key")
        }
        encoder = ResNet.cifarEncoder(depth: depth, width: config.model.width, inputChannels: context.input.channels, hidden: simclr.headHidden,
                                      dim: simclr.dim, rng: &rng)
        encoder.replicate(over: context.world, syncBatchNorm: simclr.batchNorm == .sync)
        world = context.world
        gather = context.world.isDistributed ? CommunicatorGather(communicator: context.world) : nil
        temperature = Float(simclr.temperature)
        batchNorm = simclr.batchNorm
        monitor = context.data.map { KNNMonitor(world: context.world, trainSet: $0.train, testSet: $0.test, k: config.knn.k,
                                                temperature: Float(config.knn.temperature)) }
        views = ContrastiveAugmentation(settings: ContrastiveAugmentation.Settings(config.views, data: context.data?.train))
        evaluationEvery = config.knn.every
        trunk = config.model.displayName
    }

    var parameters: [(String, Tensor)] { encoder.namedParameters() }
    var buffers: [(String, Tensor)] { encoder.namedBuffers() }
    var modules: [any Module] { [encoder] }
    var summary: String {
        "SimCLR, \(trunk) trunk: \(encoder.parameterCount) parameters, NT-Xent T \(temperature) over 2 × \(world.size) rank(s) × the batch, "
            + "batch norm \(batchNorm.rawValue)"
    }
    var accuracyName: String? { "instance_acc" }

    func setTraining(_ training: Bool) { encoder.train(training) }

    func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult {
        guard let second = batch.secondView else {
            throw TrainingError("SimCLR needs two views per image, the loader gave one; this is a bug, please report it with the config")
        }
        let b = batch.images.shape[0]
        let x = Tensor.concat([batch.images, second], dim: 0)   // x: [2B, C, H, W], first views then second
        let z = encoder(x).l2Normalized(dim: 1)                   // z: [2B, dim]
        let all = z.gatheredAcrossReplicas(gather, blocks: 2)     // all: [2·B·N, dim] in global position order
        let loss = all.ntXent(temperature: temperature)
        return ForwardResult(loss: loss, correct: Self.firstViewsMatched(all, rank: world.rank, ranks: world.size, perRank: b))
    }

    /// kNN top-1 on the test set with the trunk's features.
    func evaluate(batchSize: Int) throws -> [(String, Double)] {
        guard let monitor else { return [] }
        return [("knn_acc", try monitor.accuracy(of: encoder, batchSize: batchSize))]
    }

    /// This rank's first views whose most similar other row of `all` [2M, dim] (M = B·N images,
    /// first views then second) is their own second view.
    static func firstViewsMatched(_ all: Tensor, rank: Int, ranks: Int, perRank b: Int) -> Int {
        let (rows, dim) = (all.shape[0], all.shape[1])
        let m = rows / 2
        var count = 0
        for i in 0..<b {
            let row = i * ranks + rank, q = all.data + row * dim
            var best = -Double.infinity, bestIndex = -1
            for j in 0..<rows where j != row {
                let s = VectorMath.dotDouble(q, all.data + j * dim, dim)
                if s > best { best = s; bestIndex = j }
            }
            if bestIndex == row + m { count += 1 }
        }
        return count
    }
}
