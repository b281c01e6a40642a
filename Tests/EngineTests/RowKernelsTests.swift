import EngineKernels
import Foundation
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
