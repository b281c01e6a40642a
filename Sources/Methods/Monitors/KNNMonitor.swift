import Datasets
import Engine
import MPI

/// A contrastive method's progress without labels in the loss: weighted kNN top-1 accuracy
/// on the test set, with the training set's features as the labelled bank. The features are
/// the trained encoder's trunk output (what the linear probe sees), L2-normalised, in eval
/// mode.
///
/// Sharded: each rank extracts the features of its share of both sets, the bank is gathered
/// on every rank, each rank classifies its share of the test set and the counts are summed.
struct KNNMonitor {
    let world: Communicator
    let trainSet: ImageDataset
    let testSet: ImageDataset
    let k: Int
    let temperature: Float

    /// Test-set accuracy of `encoder`'s trunk features (the caller has put it in eval mode).
    func accuracy(of encoder: ResNet, batchSize: Int) throws -> Double {
        try accuracy(features: { encoder.features($0) }, batchSize: batchSize)
    }

    /// Test-set accuracy of the features `features` gives a batch of images [B, …] → [B, D].
    func accuracy(features: @escaping (Tensor) -> Tensor, batchSize: Int) throws -> Double {
        let extract = { (images: Tensor) in features(images).l2Normalized(dim: 1) }   // [B, D]
        let mine = FeatureBank.shard(of: trainSet, world: world, batchSize: batchSize, extract: extract)
        let bank = try FeatureBank.gather(mine.features, labels: mine.labels, world: world)
        let test = FeatureBank.shard(of: testSet, world: world, batchSize: batchSize, extract: extract)
        let knn = WeightedKNN(bank: bank.features, labels: bank.labels, classes: trainSet.classCount, k: k,
                              temperature: temperature)
        var counts = [Double(test.labels.isEmpty ? 0 : knn.correct(test.features, truth: test.labels)), Double(test.labels.count)]
        try counts.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        return counts[0] / max(counts[1], 1)
    }
}
