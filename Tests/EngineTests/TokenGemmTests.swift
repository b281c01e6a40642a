import Engine
import TestSupport
import XCTest

/// Linear layers on token rows (`Tensor.linear(rowsPerImage:)`, on `TokenGemm`): right against
/// a plain loop for row counts and widths that are not multiples of the tiles, and with bits
/// that depend neither on the other rows of the call nor on the kernels' vector width.
final class TokenGemmTests: XCTestCase {
    var rng = RandomGenerator(seed: 21)

    override func tearDown() {
        ShiftedGemm.kernels = CPUFeatures.hasAVX512 ? .avx512 : .avx2
        super.tearDown()
    }

    /// y = x Wᵀ + b, dX = dY W and dW = dYᵀ X in double, for comparison.
    private func naive(x: Tensor, w: Tensor, b: Tensor, g: Tensor) -> (y: [Float], dx: [Float], dw: [Float]) {
        let (rows, i, o) = (x.shape[0], x.shape[1], w.shape[0])
        var y = [Float](repeating: 0, count: rows * o), dx = [Float](repeating: 0, count: rows * i), dw = [Float](repeating: 0, count: o * i)
        for r in 0..<rows { for c in 0..<o {
            var s = Double(b[flat: c])
            for j in 0..<i { s += Double(x[flat: r * i + j]) * Double(w[flat: c * i + j]) }
            y[r * o + c] = Float(s)
        } }
        for r in 0..<rows { for j in 0..<i {
            var s = 0.0
            for c in 0..<o { s += Double(g[flat: r * o + c]) * Double(w[flat: c * i + j]) }
            dx[r * i + j] = Float(s)
        } }
        for c in 0..<o { for j in 0..<i {
            var s = 0.0
            for r in 0..<rows { s += Double(g[flat: r * o + c]) * Double(x[flat: r * i + j]) }
            dw[c * i + j] = Float(s)
        } }
        return (y, dx, dw)
    }

    private func run(_ x: Tensor, _ w: Tensor, _ b: Tensor, _ g: Tensor, rowsPerImage: Int) -> (y: [Float], dx: [Float], dw: [Float]) {
        let xv = Tensor(shape: x.shape, values: x.values, requiresGrad: true)
        w.grad = nil
        let y = xv.linear(weight: w, bias: b, rowsPerImage: rowsPerImage)
        y.backward(gradient: g)
        return (y.values, xv.grad?.values ?? [], (w.gradPrecise ?? []).map { Float($0) })
    }

    /// Widths on both sides of 16 (weights read in place or padded) and of each other (the
    /// weight gradient transposes the narrower operand), rows not a multiple of 4.
    func testMatchesAPlainLoop() {
        for (images, rows, i, o) in [(5, 3, 5, 7), (3, 5, 32, 16), (2, 7, 16, 48), (4, 3, 40, 24)] {
            let x = Tensor.randn([images * rows, i], rng: &rng), g = Tensor.randn([images * rows, o], rng: &rng)
            let w = Tensor.randn([o, i], rng: &rng, requiresGrad: true), b = Tensor.randn([o], rng: &rng, requiresGrad: true)
            let got = run(x, w, b, g, rowsPerImage: rows), want = naive(x: x, w: w, b: b, g: g)
            let what = "\(images) images × \(rows) rows, \(i) → \(o)"
            assertClose(got.y, want.y, rtol: 1e-5, atol: 1e-5, "y, " + what)
            assertClose(got.dx, want.dx, rtol: 1e-5, atol: 1e-5, "dX, " + what)
            assertClose(got.dw, want.dw, rtol: 1e-5, atol: 1e-5, "dW, " + what)
        }
    }

    /// An image's output and input-gradient rows are the same bits in a batch of 9 images and
    /// in the batch of its last 5, and under the 8- and 16-wide kernels.
    func testAnImagesRowsDoNotDependOnTheBatchOrTheVectorWidth() {
        let (rows, i, o) = (7, 48, 96)
        let x = Tensor.randn([9 * rows, i], rng: &rng), g = Tensor.randn([9 * rows, o], rng: &rng)
        let w = Tensor.randn([o, i], rng: &rng, requiresGrad: true), b = Tensor.randn([o], rng: &rng, requiresGrad: true)
        func tail(_ t: Tensor, from image: Int) -> Tensor {
            let width = t.shape[1]
            return Tensor(shape: [(9 - image) * rows, width], values: Array(t.values[(image * rows * width)...]))
        }
        let all = run(x, w, b, g, rowsPerImage: rows), last = run(tail(x, from: 4), w, b, tail(g, from: 4), rowsPerImage: rows)
        XCTAssertEqual(Array(all.y[(4 * rows * o)...]), last.y)
        XCTAssertEqual(Array(all.dx[(4 * rows * i)...]), last.dx)
        guard CPUFeatures.hasAVX512 else { return }
        ShiftedGemm.kernels = .avx2
        let narrow = run(x, w, b, g, rowsPerImage: rows)
        ShiftedGemm.kernels = .avx512
        let wide = run(x, w, b, g, rowsPerImage: rows)
        XCTAssertEqual(narrow.y, wide.y)
        XCTAssertEqual(narrow.dx, wide.dx)
        XCTAssertEqual(narrow.dw, wide.dw)
    }
}
