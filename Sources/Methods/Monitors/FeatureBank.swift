import Datasets
import Engine
import MPI

/// Features of a whole data set computed sharded across ranks: each rank runs the extractor
/// (a frozen network in eval mode, or the pixels themselves) on its share of the images, in
/// the evaluation order (rank r takes r, r + N, …), and the rows can be gathered so every
/// rank holds all of them. Used by the kNN monitor and the linear probe.
enum FeatureBank {
    /// This rank's share of `dataset` through `extract` (normalised, un-augmented images
    /// [B, 1, H, W] → features [B, D]), without recording; with the labels.
    static func shard(of dataset: ImageDataset, world: Communicator, batchSize: Int,
                      extract: (Tensor) -> Tensor) -> (features: Tensor, labels: [Int]) {
        Autograd.noGrad {
            let loader = BatchLoader.evaluation(dataset: dataset, rank: world.rank, worldSize: world.size, batchSize: batchSize)
            defer { loader.stop() }
            var rows: [Float] = []
            var labels: [Int] = []
            var width = 0
            while let batch = loader.next() {
                let f = extract(batch.images)   // f: [B, D]
                width = f.count / max(batch.count, 1)
                rows.append(contentsOf: UnsafeBufferPointer(start: f.data, count: f.count))
                labels += batch.labels
            }
            return (Tensor(shape: [labels.count, width], values: rows), labels)
        }
    }

    /// Every rank's rows, concatenated in rank order: features [ΣN_r, D] and their labels.
    static func gather(_ features: Tensor, labels: [Int], world: Communicator) throws -> (features: Tensor, labels: [Int]) {
        guard world.isDistributed else { return (features, labels) }
        let width = features.shape[1]
        let counts = try world.allgather([Int64(labels.count)]).map { Int($0[0]) }
        let total = counts.reduce(0, +)
        let all = Tensor(uninitializedShape: [total, width])   // all: [ΣN_r, D]
        try world.allgatherv(UnsafeBufferPointer(start: features.data, count: features.count), counts: counts.map { $0 * width },
                             into: UnsafeMutableBufferPointer(start: all.data, count: all.count))
        var allLabels = [Int64](repeating: 0, count: total)
        let mine = labels.map(Int64.init)
        try mine.withUnsafeBufferPointer { send in
            try allLabels.withUnsafeMutableBufferPointer { try world.allgatherv(send, counts: counts, into: $0) }
        }
        return (all, allLabels.map(Int.init))
    }
}
