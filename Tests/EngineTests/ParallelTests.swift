import Engine
import Foundation
import TestSupport
import XCTest

final class ParallelTests: XCTestCase {
    func testChunksCoverTheRangeOnceInOrder() {
        for threads in [1, 2, 3] {
            Parallel.threads = threads
            defer { Parallel.threads = 1 }
            for count in [0, 1, 2, 7, 128] {
                let lock = NSLock()
                var seen: [(Int, Range<Int>)] = []
                Parallel.chunks(count) { part, range in lock.withLock { seen.append((part, range)) } }
                let ranges = seen.sorted { $0.0 < $1.0 }.map(\.1)
                XCTAssertEqual(ranges.flatMap { Array($0) }, Array(0..<count), "threads \(threads), count \(count)")
                XCTAssertTrue(ranges.allSatisfy { !$0.isEmpty }, "no empty chunk")
                XCTAssertLessThanOrEqual(ranges.count, threads)
            }
        }
    }
}
