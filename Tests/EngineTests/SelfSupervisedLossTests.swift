import Engine
import TestSupport
import XCTest

/// SimCLR's NT-Xent and MAE's masked MSE: finite differences, and each against the same
/// loss written with the engine's general ops or plain loops.
final class SelfSupervisedLossTests: XCTestCase {
    var rng = RandomGenerator(seed: 11)

    func input(_ shape: [Int], scale: Float = 1) -> Tensor { gradientInput(shape, scale: scale, rng: &rng) }

    func testNTXentGradients() {
        checkGradients([input([5, 6]), input([5, 6])]) {
            Tensor.concat([$0[0].l2Normalized(dim: 1), $0[1].l2Normalized(dim: 1)], dim: 0).ntXent(temperature: 0.5)
        }
        checkGradients([input([3, 4]), input([3, 4])]) {
            Tensor.concat([$0[0].l2Normalized(dim: 1), $0[1].l2Normalized(dim: 1)], dim: 0).ntXent(temperature: 0.2)
        }
    }

    /// s = z zᵀ / T with −∞ on the diagonal and cross-entropy against the other view's row.
    func testNTXentMatchesComposedOps() {
        let n = 4, t: Float = 0.3
        let z = Tensor.concat([input([n, 5]).l2Normalized(dim: 1), input([n, 5]).l2Normalized(dim: 1)], dim: 0).detached()
        let diagonal = Tensor.zeros([2 * n, 2 * n])
        for i in 0..<2 * n { diagonal.data[i * 2 * n + i] = -.infinity }
        let logits = z.matmul(z.transposed()) * (1 / t) + diagonal
        let composed = logits.crossEntropy(targets: (0..<2 * n).map { ($0 + n) % (2 * n) })
        assertClose(z.ntXent(temperature: t), composed)
    }

    func testMaskedMSEGradients() {
        let mask = Tensor(shape: [2, 3], values: [1, 0, 1, 0, 1, 1])
        for normPixels in [false, true] {
            checkGradients([input([2, 3, 5]), input([2, 3, 5])]) {
                $0[0].maskedMSE(target: $0[1], mask: mask, normPixels: normPixels)
            }
        }
    }

    /// Σ mask · mean_P (pred − t)² / Σ mask in double, t standardised per patch with the
    /// unbiased variance when norm_pix is on.
    func testMaskedMSEAgainstDirectLoops() {
        let (n, l, p) = (2, 4, 6)
        let pred = input([n, l, p]), target = input([n, l, p], scale: 3)
        let maskValues: [Float] = [1, 1, 0, 1, 0, 0, 1, 0]
        let mask = Tensor(shape: [n, l], values: maskValues)
        for normPixels in [false, true] {
            var total = 0.0
            for r in 0..<n * l where maskValues[r] == 1 {
                let x = (0..<p).map { Double(target.data[r * p + $0]) }
                let mean = x.reduce(0, +) / Double(p)
                let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(p - 1)
                let t = normPixels ? x.map { ($0 - mean) / (variance + 1e-6).squareRoot() } : x
                total += (0..<p).map { (Double(pred.data[r * p + $0]) - t[$0]) * (Double(pred.data[r * p + $0]) - t[$0]) }
                    .reduce(0, +) / Double(p)
            }
            let expected = Float(total / Double(maskValues.reduce(0, +)))
            assertClose([pred.maskedMSE(target: target, mask: mask, normPixels: normPixels).item], [expected])
        }
    }

    func testMaskedMSEWithNothingMaskedIsZeroWithZeroGradient() {
        let pred = input([1, 3, 4])
        let loss = pred.maskedMSE(target: input([1, 3, 4]), mask: Tensor.zeros([1, 3]), normPixels: true)
        XCTAssertEqual(loss.item, 0)
        loss.backward()
        XCTAssertEqual(pred.grad?.values ?? [], [Float](repeating: 0, count: 12))
    }
}
