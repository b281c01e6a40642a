import Config
import Datasets
import Engine
import MPI
import Training

/// `train.method: mocov3` — MoCo v3 pre-training (the `mocov3:` section) of a ViT or a
/// CIFAR-style ResNet (`model.name`), with the `views:` augmentations, watched by the kNN
/// monitor (`knn:`).
public enum MoCoV3: TrainingMethod {
    public static let name = TrainConfig.TrainMethod.mocov3

    public static func objective(_ context: MethodContext, rng: inout RandomGenerator) throws -> any TrainingObjective {
        try MoCoV3Objective(context, rng: &rng)
    }

    /// The base encoder (trunk and projector).
    public static func probedEncoder(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String) {
        (try MoCoV3Objective.model(config, input: input, rng: &rng).baseEncoder, "model.base_encoder.")
    }
}

/// MoCo v3 as a `Trainer` objective: `MoCoV3Model`'s step with every rank's keys gathered in
/// global position order, so the negatives are the global batch's and image i's positive is
/// its own key. With `mocov3.batch_norm: sync` every batch norm (projector, predictor, a
/// ResNet trunk; the ViT has only LayerNorm) spans the global batch and N ranks train exactly
/// like one process.
///
/// The reported "accuracy" is the instance accuracy of ctr(q1, k2): the share of first views
/// whose own key scores highest.
final class MoCoV3Objective: TrainingObjective {
    let model: MoCoV3Model
    let world: Communicator
    let gather: CommunicatorGather?
    let momentum: Schedule
    let monitor: KNNMonitor?
    let views: ContrastiveAugmentation?
    let evaluationEvery: Int
    let trunk: String
    let batchNorm: TrainConfig.ReplicaBatchNorm
    /// A ViT's patch projection, when `mocov3.freeze_patch_embed` keeps it out of training.
    let frozen: [(String, Tensor)]

    init(_ context: MethodContext, rng: inout RandomGenerator) throws {
        let config = context.config, mocov3 = config.mocov3
        guard config.train.accumulationSteps == 1 else {
            throw TrainingError("train.method mocov3 contrasts each step's whole batch at once and does not split a step: set train.accumulation_steps to 1")
        }
        guard !config.distributed.syncBatchNorm else {
            throw TrainingError("distributed.sync_batch_norm is for supervised and MoCo v2 runs; MoCo v3's batch norm is mocov3.batch_norm (sync by default): remove the key")
        }
        model = try Self.model(config, input: context.input, rng: &rng)
        if mocov3.freezePatchEmbed {
            guard let vit = model.baseEncoder as? VisionTransformer else {
                throw TrainingError("mocov3.freeze_patch_embed freezes a ViT's patch projection; model.name \(config.model.name.rawValue) has none: set it to false")
            }
            frozen = vit.patchEmbed.namedParameters(prefix: "base_encoder.patch_embed.")
            for (_, p) in frozen { p.requiresGrad = false }
        } else {
            frozen = []
        }
        let sync = mocov3.batchNorm == .sync
        for network in [model.baseEncoder, model.momentumEncoder, model.predictor] as [any Module] {
            network.replicate(over: context.world, syncBatchNorm: sync)
        }
        world = context.world
        gather = context.world.isDistributed ? CommunicatorGather(communicator: context.world) : nil
        batchNorm = mocov3.batchNorm
        momentum = ScheduleFactory.emaMomentum(base: mocov3.momentum, cosineToOne: mocov3.momentumSchedule == .cosine,
                                               iterations: context.scheduledIterations)
        monitor = context.data.map { KNNMonitor(world: context.world, trainSet: $0.train, testSet: $0.test, k: config.knn.k,
                                                temperature: Float(config.knn.temperature)) }
        views = ContrastiveAugmentation(settings: ContrastiveAugmentation.Settings(config.views, data: context.data?.train))
        evaluationEvery = config.knn.every
        trunk = config.model.displayName
    }

    /// The networks `config` describes: a ViT (`model.name: vit`) or a CIFAR-style ResNet trunk.
    static func model(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> MoCoV3Model {
        let mocov3 = config.mocov3
        if config.model.name == .vit {
            return MoCoV3Model.vit(try ModelFactory.vitShape(config.model, input: input), mlpDim: mocov3.mlpDim, dim: mocov3.dim,
                                   temperature: Float(mocov3.temperature), rng: &rng)
        }
        guard let depth = config.model.name.cifarDepth else {
            throw TrainingError("train.method mocov3 needs a ViT or a CIFAR-style ResNet trunk; model.name \(config.model.name.rawValue) is neither: set it to vit, resnet20, resnet32 or resnet56")
        }
        return MoCoV3Model.resnet(depth: depth, width: config.model.width, inputChannels: input.channels, mlpDim: mocov3.mlpDim, dim: mocov3.dim,
                                  temperature: Float(mocov3.temperature), rng: &rng)
    }

    var parameters: [(String, Tensor)] { model.trainedParameters.filter { $0.1.requiresGrad } }
    var buffers: [(String, Tensor)] {
        model.baseEncoder.namedBuffers(prefix: "base_encoder.") + frozen
            + model.momentumEncoder.namedParameters(prefix: "momentum_encoder.") + model.momentumEncoder.namedBuffers(prefix: "momentum_encoder.")
            + model.predictor.namedBuffers(prefix: "predictor.")
    }
    var modules: [any Module] { [model.baseEncoder, model.momentumEncoder, model.predictor] }
    var summary: String {
        let count = parameters.reduce(0) { $0 + $1.1.count }
        return "MoCo v3, \(trunk) trunk: \(count) trained parameters (encoder, projector, predictor), T \(model.temperature), "
            + "negatives from \(world.size) rank(s), batch norm \(batchNorm.rawValue)" + (frozen.isEmpty ? "" : ", patch projection frozen")
    }
    var accuracyName: String? { "instance_acc" }

    func setTraining(_ training: Bool) {
        for network in modules { network.train(training) }
    }

    func scheduleValues(at iteration: Int) -> [(String, Double)] { [("moco_momentum", momentum.value(at: iteration))] }

    func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult {
        guard let second = batch.secondView else {
            throw TrainingError("MoCo v3 needs two views per image, the loader gave one; this is a bug, please report it with the config")
        }
        let step = model.forward(batch.images, second, momentum: Float(momentum.value(at: iteration)), rank: world.rank, ranks: world.size,
                                 gatherKeys: { [gather] in $0.gatheredAcrossReplicas(gather) })
        return ForwardResult(loss: step.loss, correct: Self.positivesRankedFirst(step.logits1, rank: world.rank, ranks: world.size))
    }

    /// kNN top-1 on the test set with the base encoder's trunk features.
    func evaluate(batchSize: Int) throws -> [(String, Double)] {
        guard let monitor else { return [] }
        let encoder = model.baseEncoder
        return [("knn_acc", try monitor.accuracy(features: { encoder.features($0) }, batchSize: batchSize))]
    }

    /// Rows i of `logits` [B, N·B] whose largest entry is the positive, column i·N + r.
    static func positivesRankedFirst(_ logits: Tensor, rank: Int, ranks: Int) -> Int {
        let (n, width) = (logits.shape[0], logits.shape[1])
        var count = 0
        for i in 0..<n {
            let row = logits.data + i * width, positive = i * ranks + rank
            if !(0..<width).contains(where: { $0 != positive && row[$0] >= row[positive] }) { count += 1 }
        }
        return count
    }
}
