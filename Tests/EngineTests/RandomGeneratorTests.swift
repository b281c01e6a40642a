import Engine
import Foundation
import TestSupport
import XCTest

final class RandomGeneratorTests: XCTestCase {
    func testStreamsAreReproducibleAndDistinct() {
        var a = RandomGenerator(seed: 5), b = RandomGenerator(seed: 5)
        XCTAssertEqual((0..<4).map { _ in a.next() }, (0..<4).map { _ in b.next() })
        var epoch3 = RandomGenerator(seed: 5, purpose: .samplerEpoch, index: 3)
        var rank3 = RandomGenerator(seed: 5, purpose: .augmentation, index: 3)
        var initial = RandomGenerator(seed: 5, purpose: .initialization)
        let draws = [epoch3.next(), rank3.next(), initial.next()]
        XCTAssertEqual(Set(draws).count, 3, "purposes must not share streams")
    }

    func testSavedStateContinuesTheStream() throws {
        var g = RandomGenerator(seed: 9)
        _ = g.next()
        let saved = try JSONEncoder().encode(g)
        let expected = (0..<3).map { _ in g.next() }
        var restored = try JSONDecoder().decode(RandomGenerator.self, from: saved)
        XCTAssertEqual((0..<3).map { _ in restored.next() }, expected)
    }

    func testNormalAndUniformMoments() {
        var g = RandomGenerator(seed: 1)
        let n = 200_000
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { buffer.deallocate() }
        g.fillNormal(buffer, count: n, mean: 0, std: 1)
        var mean = 0.0, sq = 0.0
        for i in 0..<n { mean += Double(buffer[i]); sq += Double(buffer[i] * buffer[i]) }
        XCTAssertEqual(mean / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(sq / Double(n), 1, accuracy: 0.02)
        let u = (0..<n).map { _ in g.uniform() }
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(Double(u.reduce(0, +)) / Double(n), 0.5, accuracy: 0.01)
        XCTAssertEqual(g.permutation(50).sorted(), Array(0..<50))
    }
}


