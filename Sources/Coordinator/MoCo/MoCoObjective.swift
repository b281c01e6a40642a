import Data
import Engine
import Foundation
import MPI

/// MoCo v2 pre-training as a `Trainer` objective. One step, in the reference's order:
/// query features of the first view (on the tape), the key encoder's EMA update with this
/// iteration's momentum, keys of the second view through shuffle-BN (`KeyEncoding`), InfoNCE
/// against the queue; after the optimizer step every rank enqueues every rank's keys, so the
/// queues stay identical.
///
/// The "accuracy" it reports is the instance accuracy: the share of queries whose positive
/// key scores above all K negatives. Labels are used only by the kNN monitor.
final class MoCoObjective: TrainingObjective {
    let model: MoCoModel
    let world: Communicator
    let momentum: Schedule
    let keyEncoding: KeyEncoding
    /// The kNN monitor; nil where nothing is evaluated (the bench).
    let monitor: KNNMonitor?
    let views: ContrastiveAugmentation?
    let trunk: String
    /// The injected fault, if any; a resumed run does not repeat it.
    private(set) var fault: FaultInjection?
    /// Every rank's keys of the step in progress, enqueued once the step is final. keys: [N·B, dim]
    private var pendingKeys: Tensor?

    /// - Parameter monitor: the data sets for the kNN monitor; nil evaluates nothing.
    init(config: TrainConfig, world: Communicator, monitor sets: (train: FashionMNIST, test: FashionMNIST)?,
                iterations: Int, rng: inout RandomGenerator) throws {
        let moco = config.moco
        guard let depth = config.model.name.cifarDepth else {
            throw CoordinatorError("train.method moco needs a CIFAR-style ResNet trunk; model.name \(config.model.name.rawValue) is not one: set it to resnet20, resnet32 or resnet56")
        }
        guard config.train.accumulationSteps == 1 else {
            throw CoordinatorError("train.method moco enqueues each step's keys once and does not split a step: set train.accumulation_steps to 1")
        }
        let groups = moco.keyBatchNorm == .shuffle ? moco.keyGroups : 1
        guard groups <= config.train.batchSize else {
            throw CoordinatorError("moco.key_groups \(moco.keyGroups) is more than the \(config.train.batchSize) images of train.batch_size; use at most that many groups")
        }
        model = MoCoModel.cifar(depth: depth, width: config.model.width, hidden: moco.headHidden, dim: moco.dim, queueSize: moco.queueSize,
                                temperature: Float(moco.temperature), rng: &rng)
        self.world = world
        momentum = ScheduleFactory.emaMomentum(base: moco.momentum, cosineToOne: moco.momentumSchedule == .cosine,
                                               iterations: iterations)
        keyEncoding = KeyEncoding(mode: moco.keyBatchNorm, groups: groups, world: world, seed: UInt64(config.train.seed))
        monitor = sets.map { KNNMonitor(world: world, trainSet: $0.train, testSet: $0.test, k: moco.knnK,
                                        temperature: Float(moco.knnTemperature)) }
        var settings = ContrastiveAugmentation.Settings()
        settings.cropScale = Float(moco.cropMinScale)...1
        settings.flipProbability = Float(moco.flipP)
        settings.jitterProbability = Float(moco.jitterP)
        settings.brightness = Float(moco.brightness)
        settings.contrast = Float(moco.contrast)
        settings.blurProbability = Float(moco.blurP)
        settings.blurSigma = 0.1...Float(moco.blurSigmaMax)
        views = ContrastiveAugmentation(settings: settings)
        trunk = config.model.displayName
        fault = try FaultInjection.fromEnvironment()
        // SyncBatchNorm: the query encoder's with distributed.sync_batch_norm, as in supervised
        // training; the key encoder's with moco.key_batch_norm sync.
        if world.isDistributed {
            let sum = CommunicatorSum(communicator: world)
            if config.distributed.syncBatchNorm { model.encoderQ.layers(of: BatchNorm.self).forEach { $0.crossReplica = sum } }
            if moco.keyBatchNorm == .sync { model.encoderK.layers(of: BatchNorm.self).forEach { $0.crossReplica = sum } }
        }
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
    var accuracyName: String { "instance_acc" }
    var counters: [String: Int] { ["queue_ptr": model.queue.pointer] }

    func restore(counters: [String: Int], source: String) throws {
        guard let pointer = counters["queue_ptr"] else {
            throw CoordinatorError("checkpoint '\(source)' holds no MoCo queue pointer (queue_ptr); it was not saved by a MoCo run, resume with the config it was started with")
        }
        do { try model.queue.restore(pointer: pointer) } catch {
            throw CoordinatorError("checkpoint '\(source)': \(error); use an older checkpoint")
        }
        fault = nil
    }

    func setTraining(_ training: Bool) {
        if training { model.encoderQ.train(); model.encoderK.train() } else { model.encoderQ.eval(); model.encoderK.eval() }
    }

    func scheduleValues(at iteration: Int) -> [(String, Double)] { [("moco_momentum", momentum.value(at: iteration))] }

    func forward(_ batch: Batch, iteration: Int) throws -> (loss: Tensor, correct: Int) {
        guard let keyImages = batch.secondView else {
            throw CoordinatorError("MoCo needs two views per image, the loader gave one; this is a bug, please report it with the config")
        }
        // Keys before queries, as in `MoCoModel.forward`: same numbers, lower peak memory.
        model.momentumUpdate(Float(momentum.value(at: iteration)))
        let (k, all) = try keyEncoding.encode(keyImages, iteration: iteration, with: model)   // k: [B, dim], all: [N·B, dim]
        let q = model.encoderQ(batch.images).l2Normalized(dim: 1)   // q: [B, dim]
        let (loss, logits) = q.infoNCE(keys: k, queue: model.queue.keys, temperature: model.temperature)   // logits: [B, 1+K]
        pendingKeys = all
        return (loss, Self.positivesRankedFirst(logits))
    }

    /// Enqueues the step's keys. The injected `kill-in-enqueue` fault stops the process
    /// half-way through, as a crash there would.
    func finishStep(iteration: Int) throws {
        guard let keys = pendingKeys else { return }
        pendingKeys = nil
        if fault?.fires(.killInEnqueue, step: iteration, rank: world.rank) ?? false {
            let half = Tensor(uninitializedShape: [keys.shape[0] / 2, keys.shape[1]])
            half.data.update(from: keys.data, count: half.count)
            model.queue.enqueue(half)
            FileHandle.standardError.write(Data("concord: rank \(world.rank): fault injection: killed while enqueuing step \(iteration)\n".utf8))
            kill(getpid(), SIGKILL)
        }
        model.queue.enqueue(keys)
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
