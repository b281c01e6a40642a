import Engine
import TestSupport
import XCTest

final class BatchReductionTests: XCTestCase {
    func testLocalChunksFollowTheReplicaCount() {
        XCTAssertEqual(BatchReduction.singleProcess.localChunks, 8)
        let two = BatchReduction(replicas: 2)
        XCTAssertEqual(two.localChunks, 4)
        XCTAssertEqual(two.chunk(of: 6), 2)
        XCTAssertEqual(two.chunks(images: 3), 3, "a batch smaller than the chunks fills only some")
        XCTAssertEqual(BatchReduction(replicas: 3).localChunks, 8, "3 does not divide 8: no invariance promised")
    }

    /// Each layer holds its own chunking; setting a module's reaches every layer that sums
    /// over the batch, and two networks of one process keep theirs apart.
    func testModulesCarryTheirOwnChunking() {
        var rng = RandomGenerator(seed: 1)
        let a = ResNet.cifar(depth: 8, rng: &rng), b = ResNet.cifar(depth: 8, rng: &rng)
        a.setBatchReduction(BatchReduction(replicas: 4))
        let layers = a.layers(of: (any BatchReducing).self)
        XCTAssertEqual(layers.count, a.layers(of: Conv2d.self).count + a.layers(of: BatchNorm.self).count + a.layers(of: Linear.self).count)
        XCTAssertTrue(layers.allSatisfy { $0.reduction.localChunks == 2 })
        XCTAssertTrue(b.layers(of: (any BatchReducing).self).allSatisfy { $0.reduction == .singleProcess })
    }

    /// The sum over a batch of 8 in one process equals, bit for bit, the sum of the two
    /// halves two replicas hold (positions ≡ r mod 2, each summed with `replicas: 2`).
    func testTwoReplicaSharesAddUpToTheOneProcessSum() {
        let values: [Double] = [1e16, 3, -1e16, 7.5, 1, 1e-3, 2.25, -5]   // position order
        let whole = BatchReduction.singleProcess.sum(images: 8, size: 1) { i, chunk in chunk[0] += values[i] }
        let half = BatchReduction(replicas: 2)
        let shares = (0..<2).map { r in half.sum(images: 4, size: 1) { i, chunk in chunk[0] += values[i * 2 + r] } }
        XCTAssertEqual(shares[0][0] + shares[1][0], whole[0])
        XCTAssertNotEqual(values.reduce(0, +), whole[0], "the values must make the order visible")
    }

    /// The tree splits on the lowest bit first: ((C0+C4)+(C2+C6)) + ((C1+C5)+(C3+C7)), with
    /// values whose sum depends on the order.
    func testCombineUsesTheLowestBitFirstTree() {
        let c: [Double] = [1e16, 1, -1e16, 3, 1, 1e-3, 7, 5]
        var sums = c
        sums.withUnsafeMutableBufferPointer { BatchReduction.combine($0.baseAddress!, chunks: 8, size: 1) }
        let expected = ((c[0] + c[4]) + (c[2] + c[6])) + ((c[1] + c[5]) + (c[3] + c[7]))
        XCTAssertEqual(sums[0], expected)
        XCTAssertNotEqual(expected, c.reduce(0, +), "the values must make the order visible")
    }

    /// Two ranks holding the even and the odd global chunks, each combining its four locally,
    /// then adding the two results, give the one-process total bit for bit.
    func testTwoRanksReproduceTheOneProcessTotal() {
        let c: [Double] = [3.25e15, -2.5, 1e-9, 7.125, -3.25e15, 0.1, 2.0, -0.3]
        var all = c
        all.withUnsafeMutableBufferPointer { BatchReduction.combine($0.baseAddress!, chunks: 8, size: 1) }
        var even = [c[0], c[2], c[4], c[6]], odd = [c[1], c[3], c[5], c[7]]
        even.withUnsafeMutableBufferPointer { BatchReduction.combine($0.baseAddress!, chunks: 4, size: 1) }
        odd.withUnsafeMutableBufferPointer { BatchReduction.combine($0.baseAddress!, chunks: 4, size: 1) }
        XCTAssertEqual(even[0] + odd[0], all[0])
        XCTAssertEqual(odd[0] + even[0], all[0])
    }
}
