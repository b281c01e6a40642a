@testable import Methods
import Engine
import Foundation
import TestSupport
import XCTest

final class WeightedKNNTests: XCTestCase {
    private func normalizedRows(_ n: Int, _ d: Int, _ rng: inout RandomGenerator) -> Tensor {
        Autograd.noGrad { Tensor.randn([n, d], rng: &rng).l2Normalized(dim: 1) }
    }

    /// Against a brute-force reference: full sort, top k, exp(sim/T) votes.
    func testMatchesBruteForceVote() {
        var rng = RandomGenerator(seed: 21)
        let bank = normalizedRows(300, 6, &rng), queries = normalizedRows(70, 6, &rng)
        let labels = (0..<300).map { _ in rng.int(below: 4) }
        for k in [1, 7, 200, 500] {
            let knn = WeightedKNN(bank: bank, labels: labels, classes: 4, k: k, temperature: 0.1)
            let predicted = knn.predict(queries)
            for q in 0..<70 {
                let sims = (0..<300).map { i in (0..<6).reduce(Float(0)) { $0 + queries[flat: q * 6 + $1] * bank[flat: i * 6 + $1] } }
                let top = (0..<300).sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }.prefix(min(k, 300))
                var votes = [Double](repeating: 0, count: 4)
                for i in top { votes[labels[i]] += Double(exp(sims[i] / 0.1)) }
                let expected = votes.indices.max { votes[$0] < votes[$1] || (votes[$0] == votes[$1] && $0 > $1) }!
                XCTAssertEqual(predicted[q], expected, "k \(k) query \(q)")
            }
        }
    }

    /// Queries next to a class's cluster are classified as that class.
    func testSeparatedClustersAreClassifiedCorrectly() {
        var rng = RandomGenerator(seed: 5)
        let centres = normalizedRows(3, 16, &rng)
        func around(_ count: Int) -> (Tensor, [Int]) {
            let noise = Tensor.randn([count, 16], rng: &rng)
            var values: [Float] = [], labels: [Int] = []
            for i in 0..<count {
                let c = i % 3
                for j in 0..<16 { values.append(centres[flat: c * 16 + j] + 0.05 * noise[flat: i * 16 + j]) }
                labels.append(c)
            }
            return (Autograd.noGrad { Tensor(shape: [count, 16], values: values).l2Normalized(dim: 1) }, labels)
        }
        let (bank, labels) = around(600), (queries, truth) = around(90)
        let knn = WeightedKNN(bank: bank, labels: labels, classes: 3)
        XCTAssertEqual(knn.correct(queries, truth: truth), 90)
    }

    func testSelectLargestPutsTheTopKFirst() {
        let keys: [Float] = [0.3, 0.9, 0.1, 0.9, 0.5, 0.7]
        var idx: [Int32] = [0, 1, 2, 3, 4, 5]
        keys.withUnsafeBufferPointer { k in idx.withUnsafeMutableBufferPointer { WeightedKNN.selectLargest(3, in: $0, by: k.baseAddress!) } }
        XCTAssertEqual(Set(idx.prefix(3)), [1, 3, 5])
    }
}
