import Config
import Datasets
import Engine
import MPI

/// What a `Trainer` trains: the networks and their loss on a batch, the state a checkpoint
/// must hold beyond the parameters, and what to evaluate after an epoch and how often. The
/// trainer owns everything methods share — sampling, the `TrainingStep` (reduce, guard,
/// optimizer, schedules), checkpoints, metrics — so an objective is only its algorithm, and
/// the loop never names a method.
///
/// Methods build their objective from a `MethodContext` (`TrainingMethod`); the supervised
/// classifier and MoCo v2 live in the Methods target.
public protocol TrainingObjective: AnyObject {
    /// The trained parameters, by name: the optimizer updates them, the reducer averages
    /// their gradients, checkpoints save them as `model.<name>`.
    var parameters: [(String, Tensor)] { get }
    /// Every other tensor a checkpoint holds, by name (batch-norm statistics, MoCo's key
    /// encoder and queue). Broadcast from rank 0 at the start and before each evaluation.
    var buffers: [(String, Tensor)] { get }
    /// The networks, for the trainer to reach their dropout layers (their streams are saved).
    var modules: [any Module] { get }
    /// One line for the run log: what is trained and how large it is.
    var summary: String { get }
    /// Name of the per-batch accuracy in progress lines and metrics (`acc`, `instance_acc`);
    /// nil for a method without one (MAE).
    var accuracyName: String? { get }
    /// When set, the loader gives every batch a second view of each image drawn with it.
    var views: ContrastiveAugmentation? { get }
    /// Epochs between evaluations (`train.eval_every`, MoCo's `moco.knn_every`); the last
    /// epoch is always evaluated unless this is 0.
    var evaluationEvery: Int { get }

    /// Training or evaluation mode for every network.
    func setTraining(_ training: Bool)
    /// The forward pass at `iteration`: the loss, on the tape (the step runs backward
    /// through it), and how many of the batch's examples the model got right.
    func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult
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
    /// What continuing a checkpoint saved on `savedRanks` ranks on `ranks` changes for this
    /// method beyond the global batch and the random streams, for the log; nil if nothing.
    func worldSizeChangeNote(savedRanks: Int, ranks: Int) -> String?
}

/// One forward pass's result.
public struct ForwardResult {
    /// The loss, on the tape.
    public let loss: Tensor
    /// Examples the model got right (classification) or ranked first (contrastive).
    public let correct: Int

    public init(loss: Tensor, correct: Int) {
        self.loss = loss
        self.correct = correct
    }
}

extension TrainingObjective {
    public var counters: [String: Int] { [:] }
    public func restore(counters: [String: Int], source: String) throws {}
    public func finishStep(iteration: Int) throws {}
    public func scheduleValues(at iteration: Int) -> [(String, Double)] { [] }
    public func worldSizeChangeNote(savedRanks: Int, ranks: Int) -> String? { nil }
    public var views: ContrastiveAugmentation? { nil }

    /// Every layer with a random stream (dropout, drop-path), in module order: their streams
    /// are checkpointed.
    var randomLayers: [any RandomStreamLayer] { modules.flatMap { $0.layers(of: (any RandomStreamLayer).self) } }
}

/// What a method builds its objective from.
public struct MethodContext {
    /// The run's resolved config (after any world-size adjustment).
    public let config: TrainConfig
    /// The ranks the networks are replicas over.
    public let world: Communicator
    /// The data sets; nil where nothing is evaluated (the bench).
    public let data: TrainingData?
    /// Steps the schedules span (`RunLength.scheduled`), for a method's own schedules.
    public let scheduledIterations: Int
    /// The fault injected into this process, if any (tests only).
    public let faults: FaultInjection?
    /// The images the networks take: the data's, or Fashion-MNIST's where there is none.
    public var input: ImageShape { data?.shape ?? .fashionMNIST }

    public init(config: TrainConfig, world: Communicator, data: TrainingData?, scheduledIterations: Int,
                faults: FaultInjection? = nil) {
        self.config = config
        self.world = world
        self.data = data
        self.scheduledIterations = scheduledIterations
        self.faults = faults
    }
}

/// A training method: the `train.method` it answers to and how it builds its objective.
/// Registering a method is adding its type to the Methods target's list.
public protocol TrainingMethod {
    /// The `train.method` value.
    static var name: TrainConfig.TrainMethod { get }
    /// The objective for `context`; `rng` is the initialisation stream every rank draws the
    /// same networks from.
    static func objective(_ context: MethodContext, rng: inout RandomGenerator) throws -> any TrainingObjective
    /// The network whose trunk features a linear probe reads, freshly built for `config`, and
    /// the prefix of its tensors in this method's checkpoints (`model.encoder_q.` for MoCo v2).
    static func probedEncoder(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String)
}

/// Builds the objective a config's `train.method` names (the Methods target's registry).
public typealias ObjectiveFactory = (MethodContext, inout RandomGenerator) throws -> any TrainingObjective
