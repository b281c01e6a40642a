import Data
import Engine

/// What a `Trainer` trains: the networks and their loss on a batch, the state a checkpoint
/// must hold beyond the parameters, and the evaluation after an epoch. The trainer owns
/// everything the objectives share — sampling, the gradient reduce, the optimizer and its
/// schedules, checkpoints, metrics — so each objective is only its algorithm.
///
/// `SupervisedObjective` is classification with cross-entropy; `MoCoObjective` is MoCo v2.
protocol TrainingObjective: AnyObject {
    /// The trained parameters, by name: the optimizer updates them, the reducer averages
    /// their gradients, checkpoints save them as `model.<name>`.
    var parameters: [(String, Tensor)] { get }
    /// Every other tensor a checkpoint holds, by name (batch-norm statistics, MoCo's key
    /// encoder and queue). Broadcast from rank 0 at the start and before each evaluation.
    var buffers: [(String, Tensor)] { get }
    /// The modules, for the trainer to reach their batch-norm and dropout layers.
    var modules: [any Module] { get }
    /// One line for the run log: what is trained and how large it is.
    var summary: String { get }
    /// Name of the per-batch accuracy in progress lines and metrics (`acc`, `instance_acc`).
    var accuracyName: String { get }
    /// When set, the loader gives every batch a second view of each image drawn with it.
    var views: ContrastiveAugmentation? { get }

    /// Training or evaluation mode for every module.
    func setTraining(_ training: Bool)
    /// The forward pass at `iteration`: the loss, on the tape (the trainer runs backward
    /// through it), and how many of the batch's examples the model got right.
    func forward(_ batch: Batch, iteration: Int) throws -> (loss: Tensor, correct: Int)
    /// Called once the step's parameters are final (stepped, or the step skipped on every rank).
    func finishStep(iteration: Int) throws
    /// Metrics for the epoch that just ended, as `metrics.jsonl` fields (`test_acc`, `knn_acc`, …).
    func evaluate(batchSize: Int) throws -> [(String, Double)]
    /// Scalars beyond tensors that a checkpoint must hold (MoCo: the queue's pointer).
    var counters: [String: Int] { get }
    /// Puts back what `counters` returned; `source` names the checkpoint for errors.
    func restore(counters: [String: Int], source: String) throws
    /// Schedule values worth logging at `iteration` besides the learning rate (MoCo's momentum).
    func scheduleValues(at iteration: Int) -> [(String, Double)]
}

extension TrainingObjective {
    var counters: [String: Int] { [:] }
    func restore(counters: [String: Int], source: String) throws {}
    func finishStep(iteration: Int) throws {}
    func scheduleValues(at iteration: Int) -> [(String, Double)] { [] }
    var views: ContrastiveAugmentation? { nil }

    /// Every batch-norm layer of every module.
    var batchNorms: [BatchNorm] { modules.flatMap { $0.layers(of: BatchNorm.self) } }

    /// Every dropout layer, in module order (their random streams are checkpointed).
    var dropoutLayers: [Dropout] { modules.flatMap { $0.layers(of: Dropout.self) } }
}

extension Module {
    /// This module and its descendants that are `T`s, depth-first in registration order.
    func layers<T>(of type: T.Type) -> [T] {
        ((self as? T).map { [$0] } ?? []) + children.flatMap { $0.1.layers(of: type) }
    }
}
