import Engine
import TestSupport
import XCTest

final class AutogradTests: XCTestCase {
    func testGradientsAccumulateAcrossUses() {
        let x = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        ((x * x) + x).sum().backward()
        assertClose(x.grad!.values, [3, 5, 7])   // d/dx (x² + x) = 2x + 1
    }

    func testNoGradRecordsNothing() {
        let x = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let before = Autograd.tapeLength
        let y = Autograd.noGrad { (x * 2).sum() }
        XCTAssertEqual(Autograd.tapeLength, before)
        XCTAssertFalse(y.requiresGrad)
    }

    func testReadyHookFiresOnceAfterLastUse() {
        let w = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let b = Tensor(shape: [2], values: [0.5, 0.5], requiresGrad: true)
        var order: [String] = []
        var gradAtHook: [Float] = []
        w.onGradReady = { t in order.append("w"); gradAtHook = t.grad!.values }
        b.onGradReady = { _ in order.append("b") }
        // w is used twice; its hook must wait for both contributions.
        let h = (w * w) + b
        let loss = (h + w).sum()
        loss.backward()
        XCTAssertEqual(order.filter { $0 == "w" }.count, 1)
        XCTAssertEqual(order.filter { $0 == "b" }.count, 1)
        assertClose(gradAtHook, [3, 5])   // 2w + 1
        XCTAssertEqual(Autograd.tapeLength, 0)
    }

    func testSteadyStateStepAllocatesNothing() {
        var rng = RandomGenerator(seed: 1)
        let model = ResNet.cifar(depth: 8, rng: &rng)
        let opt = SGD(groups: [ParameterGroup(name: "all", parameters: model.namedParameters(), weightDecay: 1e-4)],
                      lr: 0.1, momentum: 0.9)
        let x = Tensor.randn([4, 1, 12, 12], rng: &rng)
        func step() {
            opt.zeroGrad()
            model(x).crossEntropy(targets: [1, 2, 3, 4]).backward()
            opt.step()
        }
        step(); step()
        let before = BufferPool.shared.allocations
        for _ in 0..<3 { step() }
        XCTAssertEqual(BufferPool.shared.allocations, before, "steady-state steps allocated tensor buffers")
    }

    /// Double contributions keep a double copy (and its rounding in `.grad`); a float
    /// contribution ends it; clearing `.grad` clears it.
    func testPreciseGradientAccumulation() {
        let t = Tensor.zeros([2], requiresGrad: true)
        let first: [Double] = [0.1, 1e-9], second: [Double] = [0.2, 1e-9]
        first.withUnsafeBufferPointer { t.accumulatePreciseGrad($0) }
        XCTAssertEqual(t.gradPrecise, first)
        XCTAssertEqual(t.grad!.values, [Float(0.1), Float(1e-9)])
        second.withUnsafeBufferPointer { t.accumulatePreciseGrad($0) }
        XCTAssertEqual(t.gradPrecise!, [0.1 + 0.2, 2e-9])
        XCTAssertEqual(t.grad!.values, [Float(0.1 + 0.2), Float(2e-9)], "rounded once, from the double sum")
        t.accumulateGrad { g, _ in g[0] += 1 }
        XCTAssertNil(t.gradPrecise)
        second.withUnsafeBufferPointer { t.accumulatePreciseGrad($0) }   // now added in float
        XCTAssertNil(t.gradPrecise)
        XCTAssertEqual(t.grad!.values[0], Float(0.1 + 0.2) + 1 + Float(0.2))
        t.grad = nil
        first.withUnsafeBufferPointer { t.accumulatePreciseGrad($0) }
        t.grad = nil
        XCTAssertNil(t.gradPrecise)
    }
}
