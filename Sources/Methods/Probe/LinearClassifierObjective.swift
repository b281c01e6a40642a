import Datasets
import Engine
import Training

/// The probe's classifier as a `TrainingObjective`, so it trains through the one
/// `TrainingStep`: a batch's "images" are feature rows [B, D], the loss is cross-entropy.
final class LinearClassifierObjective: TrainingObjective {
    let classifier: Linear

    init(_ classifier: Linear) { self.classifier = classifier }

    var parameters: [(String, Tensor)] { classifier.namedParameters() }
    var buffers: [(String, Tensor)] { [] }
    var modules: [any Module] { [classifier] }
    var summary: String { "linear classifier: \(classifier.parameterCount) parameters" }
    var accuracyName: String? { "acc" }
    var evaluationEvery: Int { 0 }

    func setTraining(_ training: Bool) { classifier.train(training) }

    func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult {
        let logits = classifier(batch.images)   // logits: [B, classes]
        return ForwardResult(loss: logits.crossEntropy(targets: batch.labels), correct: Classification.correctCount(logits, batch.labels))
    }

    func evaluate(batchSize: Int) throws -> [(String, Double)] { [] }
}
