import Engine
import EngineKernels
import Foundation
import TestSupport
import XCTest

/// The vector exp and erf against glibc's, over the ranges the engine uses.
final class RowKernelsTests: XCTestCase {
    /// Worst relative error of `vector` against `scalar` over `values`.
    private func worst(_ values: [Float], _ vector: (SIMD8<Float>) -> SIMD8<Float>, _ scalar: (Double) -> Double) -> Double {
        var worst = 0.0
        for start in stride(from: 0, to: values.count - 7, by: 8) {
            var v = SIMD8<Float>()
            for k in 0..<8 { v[k] = values[start + k] }
            let y = vector(v)
            for k in 0..<8 {
                let exact = scalar(Double(v[k]))
                worst = max(worst, abs(Double(y[k]) - exact) / max(abs(exact), 1e-30))
            }
        }
        return worst
    }

    func testExpIsWithinAFewUlps() {
        let values = (0..<8000).map { Float(-87 + 87 * Double($0) / 8000) }   // softmax and GELU take exp of x ≤ 0
        XCTAssertLessThan(worst(values, RowKernels.exp, Foundation.exp), 4e-7)
        let edges = RowKernels.exp(SIMD8<Float>(-100, -87.3, 0, 1, 10, 88.5, 100, .infinity))
        XCTAssertEqual(edges[0], 0)
        XCTAssertEqual(edges[2], 1)
        XCTAssertEqual(edges[3], Float(M_E), accuracy: 1e-6)
        XCTAssertEqual(edges[6], .infinity)
    }

    func testErfIsWithinAFewUlps() {
        let values = (0..<8000).map { Float(-6 + 12 * Double($0) / 8000) }
        // Relative error near 0 is the polynomial's; absolute error stays below 1e-7 elsewhere.
        XCTAssertLessThan(worst(values.filter { abs($0) > 1e-3 }, RowKernels.erf, Foundation.erf), 1e-6)
        XCTAssertEqual(RowKernels.erf(SIMD8(repeating: 5))[0], 1, accuracy: 2e-7)
        XCTAssertEqual(RowKernels.erf(SIMD8(repeating: 0))[0], 0)
    }
}

/// The row kernels the transformer ops are built from, against plain loops.
final class RowKernelsAgainstLoopsTests: XCTestCase {
    var rng = RandomGenerator(seed: 43)

    func randn(_ count: Int) -> [Float] { Tensor.randn([count], rng: &rng).values }

    func testAttentionSoftmaxMatchesTheRowSoftmax() {
        for (rows, length) in [(5, 50), (3, 8), (4, 13), (1, 3)] {
            let ld = (length + 15) / 16 * 16
            var scores = randn(rows * ld)
            let original = scores
            var probs = [Float](repeating: .nan, count: rows * length + 8)
            var want = [Float](repeating: 0, count: rows * length)
            for r in 0..<rows {
                let row = (0..<length).map { Double(original[r * ld + $0]) * 0.3 }
                let top = row.max()!, exps = row.map { Foundation.exp($0 - top) }, total = exps.reduce(0, +)
                for i in 0..<length { want[r * length + i] = Float(exps[i] / total) }
            }
            scores.withUnsafeMutableBufferPointer { s in probs.withUnsafeMutableBufferPointer { p in
                RowKernels.attentionSoftmax(scores: s.baseAddress!, ld: ld, into: p.baseAddress!, rows: rows, length: length, scale: 0.3)
            } }
            assertClose(Array(probs[0..<(rows * length)]), want, rtol: 1e-5, atol: 1e-7, "\(rows) × \(length)")
        }
    }

    func testGELUWithSlopeMatchesGELUAndItsBackward() {
        let n = 37
        let x = randn(n).map { $0 * 3 }, ones = [Float](repeating: 1, count: n)
        var y = [Float](repeating: 0, count: n), slope = y, gelu = y, backward = y
        RowKernels.geluWithSlope(x, &y, slope: &slope, n)
        RowKernels.gelu(x, &gelu, n)
        RowKernels.geluBackward(input: x, grad: ones, into: &backward, n, accumulate: false)
        XCTAssertEqual(y, gelu)
        XCTAssertEqual(slope, backward)
    }

    func testTransposeSumRowsAndLayerNormAffineSums() {
        let (rows, cols) = (5, 7)
        let a = randn(rows * 9)
        var t = [Float](repeating: 0, count: cols * 6)
        RowKernels.transpose(rows: rows, columns: cols, a, lda: 9, into: &t, ldt: 6)
        for r in 0..<rows { for c in 0..<cols { XCTAssertEqual(t[c * 6 + r], a[r * 9 + c]) } }

        let (n, length) = (11, 3)
        let g = randn(12 * n)
        var sums = [Float](repeating: 0, count: n)
        [8, 0].withUnsafeBufferPointer { RowKernels.sumRows(segments: $0, length: length, n: n, a: g, into: &sums) }
        for j in 0..<n {
            let want = ([8, 9, 10, 0, 1, 2] as [Int]).map { Double(g[$0 * n + j]) }.reduce(0, +)
            XCTAssertEqual(Double(sums[j]), want, accuracy: 1e-5)
        }

        let (l, count) = (13, 4)
        let grad = randn(count * l), xhat = randn(count * l)
        var affine = [Double](repeating: 1, count: 2 * l)
        RowKernels.layerNormAffineGradient(grad: grad, xhat: xhat, rows: count, length: l, into: &affine)
        for j in 0..<l {
            XCTAssertEqual(affine[j], 1 + (0..<count).map { Double(grad[$0 * l + j]) * Double(xhat[$0 * l + j]) }.reduce(0, +), accuracy: 1e-5)
            XCTAssertEqual(affine[l + j], 1 + (0..<count).map { Double(grad[$0 * l + j]) }.reduce(0, +), accuracy: 1e-5)
        }
    }
}
