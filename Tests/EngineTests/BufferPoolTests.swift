@testable import Engine
import TestSupport
import XCTest

final class BufferPoolTests: XCTestCase {
    func testReleasedBuffersAreReusedBySize() {
        let pool = BufferPool()
        let p = pool.take(1000)
        pool.give(p, count: 1000)
        let before = pool.allocations
        let q = pool.take(1000)
        XCTAssertEqual(q, p, "a buffer of the same size comes back")
        XCTAssertEqual(pool.allocations, before)
        let r = pool.take(999)
        XCTAssertEqual(pool.allocations, before + 1, "another size is a new allocation")
        XCTAssertEqual(Int(bitPattern: r) % 64, 0, "buffers are cache-line aligned")
        pool.give(q, count: 1000)
        pool.give(r, count: 999)
        XCTAssertEqual(pool.liveBytes, 0)
        XCTAssertEqual(pool.pooledBytes, 1999 * 4)
        pool.drain()
        XCTAssertEqual(pool.pooledBytes, 0)
    }
}
