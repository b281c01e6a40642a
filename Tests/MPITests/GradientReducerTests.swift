import Engine
import MPI
import TestSupport
import XCTest

/// Bucketing, hooks and the non-finite flag, in one process (ranks > 1: IntegrationTests).
final class GradientReducerTests: XCTestCase {
    private func parameters(_ sizes: [Int]) -> [(String, Tensor)] {
        sizes.enumerated().map { ("p\($0.offset)", Tensor.zeros([$0.element], requiresGrad: true)) }
    }

    func testBucketsFollowReverseRegistrationOrderUpToTheCap() throws {
        // 4-byte floats: a 40-byte cap holds 10 values.
        let reducer = try GradientReducer(parameters: parameters([4, 4, 4, 20, 2]), communicator: .single(), bucketCapBytes: 40)
        // Reverse order: p4 (2) + p3 (20) exceeds the cap → [2], then [20] alone, then [4, 4] + 4 → [8], [4].
        XCTAssertEqual(reducer.bucketSizes, [2, 20, 8, 4])
    }

    func testHooksFireDuringBackwardAndTheStepReportsNonFiniteGradients() throws {
        var rng = RandomGenerator(seed: 3)
        let layer = Linear(4, 3, rng: &rng)
        let reducer = try GradientReducer(parameters: layer.namedParameters(), communicator: .single(), bucketCapBytes: 16)
        let x = Tensor.randn([5, 4], rng: &rng)
        try reducer.beginStep(0)
        layer(x).sum().backward()
        XCTAssertGreaterThan(reducer.bucketSizes.count, 1)
        XCTAssertEqual(reducer.launchedBuckets, reducer.bucketSizes.count, "every bucket starts during backward")
        let clean = try reducer.finish()
        XCTAssertFalse(clean.nonFinite)
        XCTAssertFalse(clean.nonFiniteHere)

        for (_, p) in layer.namedParameters() { p.grad = nil }
        try reducer.beginStep(1)
        layer(x).sum().backward(gradient: Tensor(shape: [], repeating: .nan))
        let poisoned = try reducer.finish()
        XCTAssertTrue(poisoned.nonFinite)
        XCTAssertTrue(poisoned.nonFiniteHere)
    }

    func testHooksStayOffUntilTheLastMicroBatch() throws {
        var rng = RandomGenerator(seed: 4)
        let layer = Linear(4, 3, rng: &rng)
        let reducer = try GradientReducer(parameters: layer.namedParameters(), communicator: .single(), bucketCapBytes: 16)
        let x = Tensor.randn([5, 4], rng: &rng)
        try reducer.beginStep(0, microBatch: 0, of: 2)
        layer(x).sum().backward()
        XCTAssertEqual(reducer.launchedBuckets, 0, "no bucket starts on an earlier micro-batch")
        try reducer.beginStep(0, microBatch: 1, of: 2)
        layer(x).sum().backward()
        XCTAssertEqual(reducer.launchedBuckets, reducer.bucketSizes.count)
        XCTAssertFalse(try reducer.finish().nonFinite)
        XCTAssertEqual(reducer.reductions, 1)
    }
}
