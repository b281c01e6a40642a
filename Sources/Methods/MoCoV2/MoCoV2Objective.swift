import Config
import Datasets
import Engine
import Foundation
import MPI
import Training

/// `train.method: moco` — MoCo v2 pre-training (the `moco:` section), watched by the weighted
/// kNN monitor every `moco.knn_every` epochs.
public enum MoCoV2: TrainingMethod {
    public static let name = TrainConfig.TrainMethod.moco

    public static func objective(_ context: MethodContext, rng: inout RandomGenerator) throws -> any TrainingObjective {
        try MoCoV2Objective(context, rng: &rng)
    }

    /// The query encoder.
    public static func probedEncoder(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String) {
        guard let depth = config.model.name.cifarDepth else {
            throw TrainingError("a MoCo v2 trunk is a CIFAR-style ResNet; model.name \(config.model.name.rawValue) is not one: use the MoCo run's config (resnet20, resnet32 or resnet56)")
        }
        let encoder = ResNet.cifarEncoder(depth: depth, width: config.model.width, inputChannels: input.channels, hidden: config.moco.headHidden,
                                          dim: config.moco.dim, rng: &rng)
        return (encoder, "model.encoder_q.")
    }
}

/// MoCo v2 as a `Trainer` objective: `MoCoModel`'s step with the key encoding the config
/// asks for; after the optimizer step every rank enqueues every rank's keys, so the queues
/// stay identical.
///
/// The "accuracy" it reports is the instance accuracy: the share of queries whose positive
/// key scores above all K negatives. Labels are used only by the kNN monitor.
final class MoCoV2Objective: TrainingObjective {
    let model: MoCoModel
    let world: Communicator
    let momentum: Schedule
    let keyEncoding: KeyEncoding
    /// The kNN monitor; nil where nothing is evaluated (the bench).
    let monitor: KNNMonitor?
    let views: ContrastiveAugmentation?
    let evaluationEvery: Int
    let trunk: String
    let faults: FaultInjection?
    /// Every rank's keys of the step in progress, enqueued once the step is final. keys: [N·B, dim]
    private var pendingKeys: Tensor?

    init(_ context: MethodContext, rng: inout RandomGenerator) throws {
        let config = context.config, moco = config.moco
        guard let depth = config.model.name.cifarDepth else {
            throw TrainingError("train.method moco needs a CIFAR-style ResNet trunk; model.name \(config.model.name.rawValue) is not one: set it to resnet20, resnet32 or resnet56")
        }
        guard config.train.accumulationSteps == 1 else {
            throw TrainingError("train.method moco enqueues each step's keys once and does not split a step: set train.accumulation_steps to 1")
        }
        let encoding = KeyEncoding(mode: moco.keyBatchNorm, groups: moco.keyGroups, world: context.world, seed: UInt64(config.train.seed))
        guard encoding.groups <= config.train.batchSize else {
            throw TrainingError("moco.key_groups \(moco.keyGroups) is more than the \(config.train.batchSize) images of train.batch_size; use at most that many groups")
        }
        model = MoCoModel.cifar(depth: depth, width: config.model.width, inputChannels: context.input.channels, hidden: moco.headHidden, dim: moco.dim, queueSize: moco.queueSize,
                                temperature: Float(moco.temperature), rng: &rng)
        // The query encoder is a plain replica (SyncBN with distributed.sync_batch_norm, as in
        // supervised training); the key encoder's batch is one of N·G shares, SyncBN with
        // moco.key_batch_norm sync.
        model.encoderQ.replicate(over: context.world, syncBatchNorm: config.distributed.syncBatchNorm)
        model.encoderK.replicate(over: context.world, groupsPerRank: encoding.groups, syncBatchNorm: moco.keyBatchNorm == .sync)
        world = context.world
        keyEncoding = encoding
        momentum = ScheduleFactory.emaMomentum(base: moco.momentum, cosineToOne: moco.momentumSchedule == .cosine,
                                               iterations: context.scheduledIterations)
        monitor = context.data.map { KNNMonitor(world: context.world, trainSet: $0.train, testSet: $0.test, k: moco.knnK,
                                                temperature: Float(moco.knnTemperature)) }
        views = ContrastiveAugmentation(settings: ContrastiveAugmentation.Settings(moco.views, data: context.data?.train))
        evaluationEvery = moco.knnEvery
        trunk = config.model.displayName
        faults = context.faults
    }

    var parameters: [(String, Tensor)] { model.encoderQ.namedParameters(prefix: "encoder_q.") }
    var buffers: [(String, Tensor)] {
        model.encoderQ.namedBuffers(prefix: "encoder_q.") + model.encoderK.namedParameters(prefix: "encoder_k.")
            + model.encoderK.namedBuffers(prefix: "encoder_k.") + [("queue", model.queue.keys)]
    }
    var modules: [any Module] { [model.encoderQ, model.encoderK] }
    var summary: String {
        "MoCo v2, \(trunk) trunk: \(model.encoderQ.parameterCount) parameters per encoder, queue \(model.queue.capacity) × \(model.queue.dim), "
            + "T \(model.temperature), key batch norm \(keyEncoding.mode.rawValue)"
            + (keyEncoding.groups > 1 ? " in \(keyEncoding.groups) group(s) per rank" : "")
    }
    var accuracyName: String? { "instance_acc" }
    var counters: [String: Int] { ["queue_ptr": model.queue.pointer] }

    func restore(counters: [String: Int], source: String) throws {
        guard let pointer = counters["queue_ptr"] else {
            throw TrainingError("checkpoint '\(source)' holds no MoCo queue pointer (queue_ptr); it was not saved by a MoCo run, resume with the config it was started with")
        }
        do { try model.queue.restore(pointer: pointer) } catch {
            throw TrainingError("checkpoint '\(source)': \(error); use an older checkpoint")
        }
    }

    func worldSizeChangeNote(savedRanks: Int, ranks: Int) -> String? {
        guard keyEncoding.mode == .shuffle else { return nil }
        return "MoCo shuffle-BN now splits the key batch into \(ranks * keyEncoding.groups) group(s) "
            + "(\(ranks) rank(s) × moco.key_groups \(keyEncoding.groups)): set moco.key_groups to keep the run's count"
    }

    func setTraining(_ training: Bool) {
        model.encoderQ.train(training)
        model.encoderK.train(training)
    }

    func scheduleValues(at iteration: Int) -> [(String, Double)] { [("moco_momentum", momentum.value(at: iteration))] }

    func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult {
        guard let keyImages = batch.secondView else {
            throw TrainingError("MoCo needs two views per image, the loader gave one; this is a bug, please report it with the config")
        }
        let step = try model.forward(query: batch.images, key: keyImages, momentum: Float(momentum.value(at: iteration)),
                                     iteration: iteration, keys: keyEncoding)
        pendingKeys = step.keysToEnqueue
        return ForwardResult(loss: step.loss, correct: Self.positivesRankedFirst(step.logits))
    }

    /// Enqueues the step's keys. The injected `kill-in-enqueue` fault stops the process
    /// half-way through, as a crash there would.
    func finishStep(iteration: Int) throws {
        guard let keys = pendingKeys else { return }
        pendingKeys = nil
        if let faults, faults.fires(.killInEnqueue, at: iteration) {
            let half = Tensor(uninitializedShape: [keys.shape[0] / 2, keys.shape[1]])
            half.data.update(from: keys.data, count: half.count)
            model.enqueue(half)
            faults.crash("killed while enqueuing step \(iteration)")
        }
        model.enqueue(keys)
    }

    /// kNN top-1 on the test set with the query encoder's trunk features.
    func evaluate(batchSize: Int) throws -> [(String, Double)] {
        guard let monitor else { return [] }
        return [("knn_acc", try monitor.accuracy(of: model.encoderQ, batchSize: batchSize))]
    }

    /// Rows of `logits` [B, 1+K] whose largest entry is the positive (column 0).
    static func positivesRankedFirst(_ logits: Tensor) -> Int {
        let (n, width) = (logits.shape[0], logits.shape[1])
        var count = 0
        for r in 0..<n {
            let row = logits.data + r * width
            var first = true
            for j in 1..<width where row[j] >= row[0] { first = false; break }
            if first { count += 1 }
        }
        return count
    }
}
