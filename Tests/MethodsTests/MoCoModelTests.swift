@testable import Methods
import Config
import MPI
import Engine
import TestSupport
import XCTest

final class MoCoModelTests: XCTestCase {
    private func model(seed: UInt64 = 3) -> MoCoModel {
        var rng = RandomGenerator(seed: seed)
        return MoCoModel.cifar(depth: 8, hidden: 16, dim: 8, queueSize: 12, temperature: 0.2, rng: &rng)
    }

    func testKeyEncoderStartsAsACopyAndTakesNoGradient() {
        let moco = model()
        for ((_, k), (_, q)) in zip(moco.encoderK.namedParameters(), moco.encoderQ.namedParameters()) {
            XCTAssertEqual(k.values, q.values)
            XCTAssertFalse(k.requiresGrad)
        }
        XCTAssertTrue(moco.namedParameters().contains { $0.0 == "encoder_q.fc.0.weight" })
        XCTAssertTrue(moco.namedParameters().contains { $0.0 == "encoder_k.fc.2.bias" })
        XCTAssertTrue(moco.namedBuffers().contains { $0.0 == "encoder_k.layer1.0.bn1.running_var" })
    }

    func testMomentumUpdateIsTheExponentialMovingAverage() {
        let moco = model()
        let (name, q) = moco.encoderQ.namedParameters()[0]
        let k = moco.encoderK.namedParameters()[0].1
        for i in 0..<q.count { q[flat: i] += 1 }   // the query encoder moved
        let before = k.values, target = q.values
        moco.momentumUpdate(0.9)
        for i in 0..<k.count { XCTAssertEqual(k[flat: i], before[i] * 0.9 + target[i] * 0.1, accuracy: 1e-6, name) }
    }

    /// A forward pass: unit-norm keys, logits [N, 1+K] scaled by 1/T, gradients for the query
    /// encoder only, and the queue unchanged until the keys are enqueued.
    func testForwardLeavesTheQueueToTheCaller() throws {
        let moco = model()
        var rng = RandomGenerator(seed: 4)
        let imQ = Tensor.randn([4, 1, 12, 12], rng: &rng), imK = Tensor.randn([4, 1, 12, 12], rng: &rng)
        let queueBefore = moco.queue.keys.values
        let step = try moco.forward(query: imQ, key: imK, momentum: 0.99, iteration: 0,
                                    keys: KeyEncoding(mode: .local, world: .single(), seed: 0))
        let (loss, logits, keys) = (step.loss, step.logits, step.keysToEnqueue)
        XCTAssertEqual(logits.shape, [4, 13])
        XCTAssertEqual(keys.shape, [4, 8])
        for r in 0..<4 {
            let norm = (0..<8).reduce(Float(0)) { $0 + keys[flat: r * 8 + $1] * keys[flat: r * 8 + $1] }
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        // |logit| ≤ 1/T for unit vectors.
        XCTAssertLessThanOrEqual(logits.values.map(abs).max()!, 1 / 0.2 + 1e-4)
        loss.backward()
        XCTAssertNotNil(moco.encoderQ.namedParameters()[0].1.grad)
        XCTAssertTrue(moco.encoderK.namedParameters().allSatisfy { $0.1.grad == nil })
        XCTAssertEqual(moco.queue.keys.values, queueBefore)
        moco.enqueue(keys)
        XCTAssertEqual(moco.queue.pointer, 4)
        XCTAssertEqual(Array(moco.queue.keys.values[0..<8]), Array(keys.values[0..<8]))
    }

    /// Split-BN keys: with one group per image, each key is that image encoded alone (batch
    /// statistics of itself), whatever the shuffled order; one group is the plain forward.
    func testKeyGroupsEncodeEachGroupOnItsOwnAndKeepTheOrder() {
        var rng = RandomGenerator(seed: 8)
        let images = Tensor.randn([4, 1, 12, 12], rng: &rng)
        let order = [2, 0, 3, 1]
        let grouped = Autograd.noGrad { KeyEncoding.keys(images, encoder: model().encoderK, groups: 4, order: order) }
        let reference = model()
        for i in 0..<4 {
            let alone = Tensor(shape: [1, 1, 12, 12], values: Array(images.values[(i * 144)..<((i + 1) * 144)]))
            let key = Autograd.noGrad { KeyEncoding.keys(alone, encoder: reference.encoderK, groups: 1, order: []) }
            assertClose(Array(grouped.values[(i * 8)..<((i + 1) * 8)]), key.values, rtol: 1e-6, atol: 1e-6, "image \(i)")
        }
        let plain = Autograd.noGrad { KeyEncoding.keys(images, encoder: model().encoderK, groups: 1, order: []) }
        let one = Autograd.noGrad { KeyEncoding.keys(images, encoder: model().encoderK, groups: 1, order: order) }
        XCTAssertEqual(one.values, plain.values)
    }

    /// Two groups differ from one batch: the statistics no longer span the whole batch.
    func testTwoKeyGroupsChangeTheKeys() {
        var rng = RandomGenerator(seed: 9)
        let images = Tensor.randn([6, 1, 12, 12], rng: &rng)
        let plain = Autograd.noGrad { KeyEncoding.keys(images, encoder: model().encoderK, groups: 1, order: []) }
        let split = Autograd.noGrad { KeyEncoding.keys(images, encoder: model().encoderK, groups: 2, order: [5, 1, 3, 0, 2, 4]) }
        XCTAssertGreaterThan(zip(plain.values, split.values).map { abs($0 - $1) }.max()!, 1e-4)
    }
}
