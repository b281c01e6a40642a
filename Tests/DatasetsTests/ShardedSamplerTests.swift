import Datasets
import Engine
import TestSupport
import XCTest

final class ShardedSamplerTests: XCTestCase {
    func testTwoShardsAreDisjointEqualAndCoverThePermutationWithTheTail() {
        for n in [0, 1, 2, 11, 60_000, 60_001] {
            let s0 = ShardedSampler(datasetCount: n, rank: 0, worldSize: 2, seed: 42, epoch: 3)
            let s1 = ShardedSampler(datasetCount: n, rank: 1, worldSize: 2, seed: 42, epoch: 3)
            let order = s0.epochOrder()
            XCTAssertEqual(order, s1.epochOrder(), "every rank sees the same permutation")
            XCTAssertEqual(order.sorted(), Array(0..<n), "a permutation")

            XCTAssertEqual(s0.count, n / 2)
            XCTAssertEqual(s1.count, n / 2)
            XCTAssert(Set(s0.indices).isDisjoint(with: s1.indices), "n=\(n)")
            let tail = order[(n / 2 * 2)...]
            XCTAssertEqual(tail.count, n % 2)
            XCTAssertEqual((s0.indices + s1.indices + tail).sorted(), Array(0..<n), "n=\(n)")

            // Interleaved positions, as DistributedSampler.
            XCTAssertEqual(s0.indices, (0..<(n / 2)).map { order[2 * $0] })
            XCTAssertEqual(s1.indices, (0..<(n / 2)).map { order[2 * $0 + 1] })
        }
    }

    func testPermutationComesFromTheEpochStream() {
        let s = ShardedSampler(datasetCount: 100, rank: 0, worldSize: 1, seed: 7, epoch: 5)
        var rng = RandomGenerator(seed: 7, purpose: .samplerEpoch, index: 5)
        XCTAssertEqual(s.indices, rng.permutation(100))
        XCTAssertEqual(s.epochOrder(), s.indices)
    }

    func testDeterministicAndEpochDependent() {
        let a = ShardedSampler(datasetCount: 1_000, rank: 1, worldSize: 3, seed: 9, epoch: 0)
        let b = ShardedSampler(datasetCount: 1_000, rank: 1, worldSize: 3, seed: 9, epoch: 0)
        XCTAssertEqual(a, b)
        let next = a.forEpoch(1)
        XCTAssertEqual(next.epoch, 1)
        XCTAssertNotEqual(next.indices, a.indices)
        XCTAssertEqual(next, ShardedSampler(datasetCount: 1_000, rank: 1, worldSize: 3, seed: 9, epoch: 1))
        XCTAssertNotEqual(ShardedSampler(datasetCount: 1_000, rank: 1, worldSize: 3, seed: 10, epoch: 0).indices,
                          a.indices)
    }

    func testThreeRanksDropTheTail() {
        let samplers = (0..<3).map { ShardedSampler(datasetCount: 10, rank: $0, worldSize: 3, seed: 1) }
        XCTAssertEqual(samplers.map(\.count), [3, 3, 3])
        let all = samplers.flatMap(\.indices)
        XCTAssertEqual(Set(all).count, 9)
        XCTAssertEqual(Set(all).union([samplers[0].epochOrder()[9]]), Set(0..<10))
    }

    func testThreeRanksPadTheTailWithTheFirstExamples() {
        let samplers = (0..<3).map { ShardedSampler(datasetCount: 10, rank: $0, worldSize: 3, seed: 1, padTail: true) }
        XCTAssertEqual(samplers.map(\.count), [4, 4, 4])
        let order = samplers[0].epochOrder()
        // Positions 0..<12 of the order extended by its own first two examples, dealt round-robin.
        let extended = order + order.prefix(2)
        for r in 0..<3 { XCTAssertEqual(samplers[r].indices, stride(from: r, to: 12, by: 3).map { extended[$0] }) }
        XCTAssertEqual(Set(samplers.flatMap(\.indices)), Set(0..<10))
    }

    func testEvaluationOrderKeepsEverything() {
        let samplers = (0..<3).map {
            ShardedSampler(datasetCount: 10, rank: $0, worldSize: 3, seed: 1, shuffle: false, dropTail: false)
        }
        XCTAssertEqual(samplers[0].indices, [0, 3, 6, 9])
        XCTAssertEqual(samplers[1].indices, [1, 4, 7])
        XCTAssertEqual(samplers[2].indices, [2, 5, 8])
    }

    func testBatches() {
        let s = ShardedSampler(datasetCount: 23, rank: 0, worldSize: 2, seed: 3)  // 11 indices
        let kept = s.batches(batchSize: 4, dropLast: false)
        XCTAssertEqual(kept.map(\.count), [4, 4, 3])
        XCTAssertEqual(kept.flatMap { $0 }, s.indices)
        XCTAssertEqual(s.batchCount(batchSize: 4, dropLast: false), 3)

        let dropped = s.batches(batchSize: 4, dropLast: true)
        XCTAssertEqual(dropped.map(\.count), [4, 4])
        XCTAssertEqual(dropped.flatMap { $0 }, Array(s.indices.prefix(8)))
        XCTAssertEqual(s.batchCount(batchSize: 4, dropLast: true), 2)

        XCTAssertEqual(s.batches(batchSize: 11, dropLast: true).count, 1)
        XCTAssertEqual(s.batches(batchSize: 12, dropLast: true).count, 0)
        XCTAssertEqual(s.batches(batchSize: 12, dropLast: false).map(\.count), [11])
    }
}
