import Config
import Datasets
import Engine
import MPI
import Training

/// `train.method: supervised` — classification: the model's logits against the labels with
/// cross-entropy (optionally label-smoothed); evaluated by test-set loss and top-1 accuracy,
/// sharded across ranks, every `train.eval_every` epochs.
public enum Supervised: TrainingMethod {
    public static let name = TrainConfig.TrainMethod.supervised

    public static func objective(_ context: MethodContext, rng: inout RandomGenerator) throws -> any TrainingObjective {
        let config = context.config
        let classes = context.data?.train.classCount ?? FashionMNIST.classCount
        guard config.model.numClasses >= classes else {
            throw TrainingError("model.num_classes \(config.model.numClasses) is smaller than the data's \(classes) classes; set it to at least \(classes)")
        }
        let model = try ModelFactory.make(config.model, input: context.input, rng: &rng)
        model.replicate(over: context.world, syncBatchNorm: config.distributed.syncBatchNorm)
        return SupervisedObjective(model: model, config: config, world: context.world, testSet: context.data?.test)
    }

    /// The classifier itself (a ResNet or a ViT; its features are the head's input).
    public static func probedEncoder(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String) {
        guard let encoder = try ModelFactory.make(config.model, input: input, rng: &rng) as? any FeatureEncoder else {
            throw TrainingError("model.name \(config.model.name.rawValue) has no trunk to probe, export or fine-tune from; use a ResNet or a ViT")
        }
        return (encoder, "model.")
    }
}

/// The classifier and its loss, as a `Trainer` objective.
final class SupervisedObjective: TrainingObjective {
    let model: any Module
    let world: Communicator
    /// The evaluation set; nil evaluates nothing (the bench).
    let testSet: ImageDataset?
    let augmentation: Augmentation
    let labelSmoothing: Float
    let modelName: String
    let evaluationEvery: Int

    init(model: any Module, config: TrainConfig, world: Communicator, testSet: ImageDataset?) {
        self.model = model
        self.world = world
        self.testSet = testSet
        augmentation = testSet.map { Augmentation(padding: config.data.pad, mean: $0.mean, std: $0.std) } ?? Augmentation(padding: config.data.pad)
        labelSmoothing = Float(config.train.labelSmoothing)
        modelName = config.model.displayName
        evaluationEvery = config.train.evalEvery
    }

    var parameters: [(String, Tensor)] { model.namedParameters() }
    var buffers: [(String, Tensor)] { model.namedBuffers() }
    var modules: [any Module] { [model] }
    var summary: String { "model \(modelName): \(model.parameterCount) parameters" }
    var accuracyName: String? { "acc" }

    func setTraining(_ training: Bool) { model.train(training) }

    func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult {
        let logits = model(batch.images)   // logits: [B, classes]
        let loss = logits.crossEntropy(targets: batch.labels, labelSmoothing: labelSmoothing)
        return ForwardResult(loss: loss, correct: Classification.correctCount(logits, batch.labels))
    }

    /// Test-set loss and accuracy in eval mode without recording: each rank its shard, the
    /// sums all-reduced.
    func evaluate(batchSize: Int) throws -> [(String, Double)] {
        guard let testSet else { return [] }
        var totals = [0.0, 0.0, 0.0]   // loss sum, correct, examples
        Autograd.noGrad {
            let loader = BatchLoader.evaluation(dataset: testSet, rank: world.rank, worldSize: world.size,
                                                batchSize: batchSize, augmentation: augmentation)
            defer { loader.stop() }
            while let batch = loader.next() {
                let logits = model(batch.images)   // logits: [B, classes]
                totals[0] += Double(logits.crossEntropy(targets: batch.labels).item) * Double(batch.labels.count)
                totals[1] += Double(Classification.correctCount(logits, batch.labels))
                totals[2] += Double(batch.labels.count)
            }
        }
        try totals.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        return [("test_loss", totals[0] / totals[2]), ("test_acc", totals[1] / totals[2])]
    }
}

/// Counting right answers.
enum Classification {
    /// Rows of `logits` [B, classes] whose largest entry is at the label.
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
}
