@testable import Methods
import Engine
import TestSupport
import XCTest

final class ContrastiveQueueTests: XCTestCase {
    private func rows(_ values: [[Float]]) -> Tensor {
        Tensor(shape: [values.count, values[0].count], values: values.flatMap { $0 })
    }

    func testStartsWithUnitKeys() {
        var rng = RandomGenerator(seed: 1)
        let queue = ContrastiveQueue(capacity: 7, dim: 5, rng: &rng)
        XCTAssertEqual(queue.keys.shape, [7, 5])
        XCTAssertEqual(queue.pointer, 0)
        for r in 0..<7 {
            let norm = (0..<5).reduce(Float(0)) { $0 + queue.keys[flat: r * 5 + $1] * queue.keys[flat: r * 5 + $1] }
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
    }

    /// K = 5 is not a multiple of the batch (2): the third batch wraps around the end.
    func testEnqueueWrapsAroundAnyCapacity() throws {
        let queue = try ContrastiveQueue(keys: Tensor.zeros([5, 2]), pointer: 0)
        queue.enqueue(rows([[1, 1], [2, 2]]))
        queue.enqueue(rows([[3, 3], [4, 4]]))
        XCTAssertEqual(queue.pointer, 4)
        queue.enqueue(rows([[5, 5], [6, 6]]))
        XCTAssertEqual(queue.pointer, 1)
        XCTAssertEqual(queue.keys.values, [6, 6, 2, 2, 3, 3, 4, 4, 5, 5])
    }

    func testABatchLargerThanTheQueueKeepsItsLastKeys() throws {
        let queue = try ContrastiveQueue(keys: Tensor.zeros([3, 1]), pointer: 2)
        queue.enqueue(rows([[1], [2], [3], [4], [5]]))
        // Keys 3, 4, 5 land at rows (2+2)%3 = 1, 2, 0; the pointer moves past all five.
        XCTAssertEqual(queue.keys.values, [5, 3, 4])
        XCTAssertEqual(queue.pointer, (2 + 5) % 3)
    }

    func testRestoringRejectsABadPointerOrShape() {
        XCTAssertThrowsError(try ContrastiveQueue(keys: Tensor.zeros([4, 2]), pointer: 4)) { error in
            XCTAssertTrue("\(error)".contains("pointer 4"), "\(error)")
        }
        XCTAssertThrowsError(try ContrastiveQueue(keys: Tensor.zeros([4]), pointer: 0)) { error in
            XCTAssertTrue("\(error)".contains("[K, dim]"), "\(error)")
        }
    }

    func testRestoringThePointerInPlace() throws {
        var rng = RandomGenerator(seed: 2)
        let queue = ContrastiveQueue(capacity: 5, dim: 2, rng: &rng)
        try queue.restore(pointer: 3)
        XCTAssertEqual(queue.pointer, 3)
        queue.enqueue(Tensor(shape: [3, 2], values: [1, 1, 2, 2, 3, 3]))
        XCTAssertEqual(queue.pointer, 1)
        XCTAssertEqual(Array(queue.keys.values[6...]), [1, 1, 2, 2])
        XCTAssertEqual(Array(queue.keys.values[0..<2]), [3, 3])
        XCTAssertThrowsError(try queue.restore(pointer: 5)) { XCTAssertTrue("\($0)".contains("pointer 5 is outside 0..<5"), "\($0)") }
        XCTAssertThrowsError(try queue.restore(pointer: -1))
    }

    func testRestoredQueueIsACopy() throws {
        let saved = Tensor(shape: [2, 1], values: [7, 8])
        let queue = try ContrastiveQueue(keys: saved, pointer: 1)
        queue.enqueue(rows([[9]]))
        XCTAssertEqual(saved.values, [7, 8])
        XCTAssertEqual(queue.keys.values, [7, 9])
    }
}
