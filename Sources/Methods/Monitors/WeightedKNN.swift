import Engine
import Foundation

/// The weighted k-nearest-neighbour classifier MoCo runs use to watch their features
/// without training anything (Wu et al.'s instance-discrimination monitor, as in the MoCo
/// reference's kNN evaluation): each query's k most similar bank features (cosine
/// similarity of L2-normalised features) vote for their labels with weight exp(sim / T),
/// and the class with the largest total wins.
///
/// ```swift
/// let knn = WeightedKNN(bank: trainFeatures, labels: trainLabels, classes: 10)   // bank: [N, D]
/// let predicted = knn.predict(testFeatures)                                      // [M] class indices
/// ```
public struct WeightedKNN {
    /// The labelled features, L2-normalised rows. bank: [N, D]
    public let bank: Tensor
    /// Label of each bank row, in 0..<classes.
    public let labels: [Int]
    public let classes: Int
    /// Neighbours that vote (at most the bank size).
    public let k: Int
    /// Temperature of the vote weights.
    public let temperature: Float

    public init(bank: Tensor, labels: [Int], classes: Int, k: Int = 200, temperature: Float = 0.1) {
        precondition(bank.rank == 2 && bank.shape[0] == labels.count && bank.shape[0] > 0,
                     "WeightedKNN: bank \(bank.shape) with \(labels.count) labels")
        precondition(labels.allSatisfy { (0..<classes).contains($0) }, "WeightedKNN: labels outside 0..<\(classes)")
        precondition(k >= 1 && temperature > 0, "WeightedKNN: k \(k), temperature \(temperature)")
        self.bank = bank
        self.labels = labels
        self.classes = classes
        self.k = min(k, bank.shape[0])
        self.temperature = temperature
    }

    /// The predicted class of each row of `queries` [M, D] (L2-normalised rows).
    public func predict(_ queries: Tensor) -> [Int] {
        precondition(queries.rank == 2 && queries.shape[1] == bank.shape[1], "WeightedKNN: queries \(queries.shape) for bank \(bank.shape)")
        let (m, d, n) = (queries.shape[0], queries.shape[1], bank.shape[0])
        let chunk = 64
        var predictions = [Int](repeating: 0, count: m)
        let similarities = Tensor(uninitializedShape: [chunk, n])   // similarities: [chunk, N]
        var order = [Int32](repeating: 0, count: n)
        var votes = [Double](repeating: 0, count: classes)
        var first = 0
        while first < m {
            let rows = min(chunk, m - first)
            BLAS.sgemm(transA: false, transB: true, m: rows, n: n, k: d, a: queries.data + first * d, lda: d,
                       b: bank.data, ldb: d, beta: 0, c: similarities.data, ldc: n)
            for r in 0..<rows {
                let sim = similarities.data + r * n
                for i in 0..<n { order[i] = Int32(i) }
                // The k largest similarities to the front (ties broken by bank index, so the
                // vote does not depend on the selection's internal order).
                order.withUnsafeMutableBufferPointer { idx in
                    Self.selectLargest(k, in: idx, by: sim)
                }
                for c in 0..<classes { votes[c] = 0 }
                for j in 0..<k {
                    let i = Int(order[j])
                    votes[labels[i]] += Double(exp((sim[i] - 1) / temperature))   // shifted by 1: same ranking, no overflow
                }
                var best = 0
                for c in 1..<classes where votes[c] > votes[best] { best = c }
                predictions[first + r] = best
            }
            first += rows
        }
        return predictions
    }

    /// Top-1 accuracy of `predict` against `truth`, as a count of correct predictions.
    public func correct(_ queries: Tensor, truth: [Int]) -> Int {
        precondition(truth.count == queries.shape[0], "WeightedKNN: \(truth.count) labels for \(queries.shape[0]) queries")
        return zip(predict(queries), truth).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    }

    /// Reorders `idx` so its first `k` entries are the indices of the k largest `key` values
    /// (ties: smaller index first); quickselect, linear on average.
    static func selectLargest(_ k: Int, in idx: UnsafeMutableBufferPointer<Int32>, by key: UnsafePointer<Float>) {
        @inline(__always) func before(_ a: Int32, _ b: Int32) -> Bool {
            let ka = key[Int(a)], kb = key[Int(b)]
            return ka > kb || (ka == kb && a < b)
        }
        var lo = 0, hi = idx.count - 1
        while lo < hi {
            let pivot = idx[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while before(idx[i], pivot) { i += 1 }
                while before(pivot, idx[j]) { j -= 1 }
                if i <= j { idx.swapAt(i, j); i += 1; j -= 1 }
            }
            if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { return }
        }
    }
}
