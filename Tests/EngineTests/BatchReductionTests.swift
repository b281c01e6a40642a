import Engine
import XCTest

final class BatchReductionTests: XCTestCase {
    override func tearDown() {
        BatchReduction.configure(worldSize: 1)
        super.tearDown()
    }

    func testLocalChunksFollowTheWorldSize() {
        BatchReduction.configure(worldSize: 1)
        XCTAssertEqual(BatchReduction.localChunks, 8)
        BatchReduction.configure(worldSize: 2)
        XCTAssertEqual(BatchReduction.localChunks, 4)
        XCTAssertEqual(BatchReduction.chunk(of: 6), 2)
        BatchReduction.configure(worldSize: 3)   // does not divide 8: no invariance promised
        XCTAssertEqual(BatchReduction.localChunks, 8)
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
