import Engine
import TestSupport
import XCTest

/// Three steps of each optimizer on fixed gradients, against values computed by
/// `torch.optim` (AdamW, SGD, RMSprop) and by MoCo v3's LARS, in float64.
final class OptimizerTests: XCTestCase {
    let gradients: [([Float], [Float])] = [
        ([0.1, 0.2, -0.3, 0.4, -0.5, 0.6], [0.05, -0.07]),
        ([-0.2, 0.1, 0.0, 0.3, 0.3, -0.1], [-0.01, 0.02]),
        ([0.05, -0.4, 0.2, -0.1, 0.2, 0.5], [0.03, 0.04]),
    ]

    /// Runs three steps; the weight [2,3] decays with `wd`, the bias [2] does not.
    func run(_ make: ([ParameterGroup]) -> any Optimizer, wd: Float) -> [Float] {
        let w = Tensor(shape: [2, 3], values: [0.5, -1.0, 2.0, 0.25, 0.0, -0.75], requiresGrad: true)
        let b = Tensor(shape: [2], values: [0.1, -0.2], requiresGrad: true)
        let opt = make([ParameterGroup(name: "w", parameters: [("w", w)], weightDecay: wd),
                        ParameterGroup(name: "b", parameters: [("b", b)], weightDecay: 0)])
        for (gw, gb) in gradients {
            w.grad = Tensor(shape: [2, 3], values: gw)
            b.grad = Tensor(shape: [2], values: gb)
            opt.step()
        }
        return w.values + b.values
    }

    func testAdamWMatchesPyTorch() {
        let got = run({ AdamW(groups: $0, lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8) }, wd: 0.1)
        assertClose(got, [0.4935417170869774, -1.0142499098477404, 2.0114587976512404, 0.22323854932113002,
                          0.011219310935498064, -0.7704030709117428, 0.07821972699638971, -0.185694512775417],
                    rtol: 1e-5, atol: 1e-6)
    }

    func testNesterovSGDMatchesPyTorch() {
        let got = run({ SGD(groups: $0, lr: 0.1, momentum: 0.9, nesterov: true) }, wd: 0.01)
        assertClose(got, [0.5063231619805, -1.011602978321, 2.0487910680519996, 0.048651170925249954,
                          0.05224374295, -1.01763230739575, 0.07981500000000001, -0.188947],
                    rtol: 1e-5, atol: 1e-6)
    }

    func testLARSMatchesMoCoV3() {
        let got = run({ LARS(groups: $0, lr: 0.5, momentum: 0.9, trustCoefficient: 0.02) }, wd: 0.01)
        assertClose(got, [0.5092334393096233, -1.0077213742375892, 2.0100896776373864, 0.19671847268073925,
                          -0.0003631408799708597, -0.797939462909052, 0.026750000000000006, -0.14415],
                    rtol: 1e-5, atol: 1e-6)
    }

    func testRMSPropMatchesPyTorch() {
        let plain = run({ RMSProp(groups: $0, lr: 0.01, alpha: 0.9, eps: 1e-8) }, wd: 0.1)
        assertClose(plain, [0.4774036375658054, -0.9994412698022445, 1.975045015419556, 0.2037591056660452,
                            0.0034318174982566098, -0.7913501182215686, 0.05762316131213744, -0.1939238582477345],
                    rtol: 1e-5, atol: 1e-6)
        let centered = run({ RMSProp(groups: $0, lr: 0.01, alpha: 0.95, eps: 1e-6, momentum: 0.5, centered: true) }, wd: 0.05)
        assertClose(centered, [0.4603160614664724, -1.0591269849227447, 2.012204563145882, 0.13510290159202012,
                               0.02963600216005476, -0.8431664232042438, 0.009042734342524587, -0.16114081543953296],
                    rtol: 1e-5, atol: 1e-6)
    }

    /// Restoring state into a fresh optimizer and stepping equals stepping the original.
    func testRestoredOptimizerContinuesLikeTheOriginal() throws {
        for make in [{ SGD(groups: $0, lr: 0.1, momentum: 0.9) } as ([ParameterGroup]) -> any Optimizer,
                     { AdamW(groups: $0, lr: 0.01) }, { RMSProp(groups: $0, lr: 0.01, momentum: 0.9, centered: true) }] {
            let w = Tensor(shape: [2], values: [1, -1], requiresGrad: true)
            let a = make([ParameterGroup(name: "all", parameters: [("w", w)], weightDecay: 0.01)])
            for g: [Float] in [[0.5, -0.2], [0.1, 0.3]] { w.grad = Tensor(shape: [2], values: g); a.step() }
            let saved = Dictionary(uniqueKeysWithValues: a.namedState().map { ($0.0, $0.1.copy()) })
            let w2 = w.copy()
            w2.requiresGrad = true
            let b = make([ParameterGroup(name: "all", parameters: [("w", w2)], weightDecay: 0.01)])
            try b.loadState(saved)
            w.grad = Tensor(shape: [2], values: [-0.4, 0.2]); a.step()
            w2.grad = Tensor(shape: [2], values: [-0.4, 0.2]); b.step()
            XCTAssertEqual(w2.values, w.values)
        }
    }

    /// clip_grad_norm_: the 2-norm of all gradients together; scaled by maxNorm / (norm + 1e-6)
    /// only when that is below 1.
    func testClippingScalesToTheGlobalNorm() {
        let a = Tensor(shape: [2], values: [3, 0], requiresGrad: true), b = Tensor(shape: [1], values: [0], requiresGrad: true)
        a.grad = Tensor(shape: [2], values: [3, 0])
        b.grad = Tensor(shape: [1], values: [4])
        XCTAssertEqual(GradientClipping.clip([a, b], maxNorm: 1), 5, accuracy: 1e-12)   // √(9 + 16)
        assertClose(a.grad!.values + b.grad!.values, [3 / (5 + 1e-6), 0, 4 / (5 + 1e-6)], rtol: 1e-6, atol: 0)
        XCTAssertEqual(GradientClipping.clip([a, b], maxNorm: 10), 1, accuracy: 1e-5)
        assertClose(a.grad!.values + b.grad!.values, [3 / (5 + 1e-6), 0, 4 / (5 + 1e-6)], rtol: 1e-6, atol: 0)   // unchanged
    }

    func testStateRoundTripsByName() throws {
        let w = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        let opt = SGD(groups: [ParameterGroup(name: "all", parameters: [("layer.weight", w)], weightDecay: 0)], lr: 0.1, momentum: 0.9)
        w.grad = Tensor(shape: [3], values: [1, 1, 1])
        opt.step()
        let saved = Dictionary(uniqueKeysWithValues: opt.namedState().map { ($0.0, $0.1.copy()) })
        XCTAssertEqual(Array(saved.keys), ["momentum.layer.weight"])
        let other = SGD(groups: [ParameterGroup(name: "all", parameters: [("layer.weight", w)], weightDecay: 0)], lr: 0.1, momentum: 0.9)
        try other.loadState(saved)
        XCTAssertEqual(other.namedState()[0].1.values, [1, 1, 1])
        XCTAssertThrowsError(try other.loadState([:]))
    }
}
