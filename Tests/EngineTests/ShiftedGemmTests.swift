import Engine
import TestSupport
import XCTest

/// The GEMM kernels against a plain triple loop, on shapes that exercise the wide tiles
/// (3 vectors), the one-vector tails, a partial last tile and (transposed) a k that is not a
/// multiple of 3, with 4-row and (AVX-512) 8-row tiles — with every kernel set this CPU can run.
final class ShiftedGemmTests: XCTestCase {
    private var kernelSets: [ShiftedGemm.Kernels] { CPUFeatures.hasAVX512 ? [.avx2, .avx512] : [.avx2] }

    override func tearDown() {
        ShiftedGemm.kernels = CPUFeatures.hasAVX512 ? .avx512 : .avx2
        super.tearDown()
    }

    func testMultiplyMatchesNaiveLoop() {
        for kernels in kernelSets { ShiftedGemm.kernels = kernels; checkMultiply(kernels) }
    }

    func testMultiplyTransposedMatchesNaiveLoop() {
        for kernels in kernelSets { ShiftedGemm.kernels = kernels; checkMultiplyTransposed(kernels) }
    }

    private func checkMultiply(_ kernels: ShiftedGemm.Kernels) {
        var rng = RandomGenerator(seed: 11)
        for (m, n, k) in [(4, 24, 5), (8, 61, 9), (12, 3, 7), (4, 48, 3), (8, 150, 11), (16, 100, 13), (24, 50, 20)] {
            let ld = ShiftedGemm.paddedColumns(n) + 3   // rows of B farther apart than needed
            let a = Tensor.randn([m, k], rng: &rng), b = Tensor.randn([k, ld], rng: &rng)
            let offsets = (0..<k).map { $0 * ld }
            let c = Tensor(shape: [m, n], repeating: 1)
            offsets.withUnsafeBufferPointer {
                ShiftedGemm.multiply(m: m, n: n, k: k, a: a.data, lda: k, base: b.data, rowOffsets: $0.baseAddress!,
                                     c: c.data, ldc: n, accumulate: true)
            }
            var expected = [Float](repeating: 1, count: m * n)
            for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += a[flat: i * k + p] * b[flat: p * ld + j] } } }
            assertClose(c.values, expected, rtol: 1e-5, atol: 1e-5, "\(kernels) m \(m) n \(n) k \(k)")
        }
    }

    private func checkMultiplyTransposed(_ kernels: ShiftedGemm.Kernels) {
        var rng = RandomGenerator(seed: 12)
        for (m, k, len) in [(4, 3, 16), (8, 7, 48), (4, 10, 32), (4, 2, 160), (16, 11, 64), (24, 4, 32), (12, 5, 48)] {
            let a = Tensor.randn([m, len], rng: &rng)
            // Overlapping windows one float apart, as kx-shifted windows of a padded image are.
            let base = Tensor.randn([len + k], rng: &rng)
            let offsets = Array(0..<k)
            let c = Tensor.zeros([m, k])
            offsets.withUnsafeBufferPointer {
                ShiftedGemm.multiplyTransposed(m: m, k: k, length: len, a: a.data, lda: len, base: base.data,
                                               rowOffsets: $0.baseAddress!, c: c.data, ldc: k, accumulate: false)
            }
            var expected = [Float](repeating: 0, count: m * k)
            for i in 0..<m { for r in 0..<k { for j in 0..<len { expected[i * k + r] += a[flat: i * len + j] * base[flat: r + j] } } }
            assertClose(c.values, expected, rtol: 1e-5, atol: 1e-5, "\(kernels) m \(m) k \(k) len \(len)")
        }
    }

    /// The broadcast weight-gradient kernel (AVX-512 only) against a plain loop: several images
    /// with their own window buffers, k not a multiple of 9, one and two vectors of rows.
    func testMultiplyTransposedBroadcastMatchesNaiveLoop() throws {
        guard CPUFeatures.hasAVX512 else { throw XCTSkip("the broadcast kernel needs AVX-512; this CPU has none") }
        ShiftedGemm.kernels = .avx512
        var rng = RandomGenerator(seed: 13)
        for (m, k, images, len) in [(16, 9, 1, 20), (32, 13, 3, 17), (48, 20, 2, 5), (16, 4, 4, 33)] {
            let stride = len + k + 7
            let at = Tensor.randn([images * len, m], rng: &rng)   // at: [images·len, m]
            let base = Tensor.randn([images * stride], rng: &rng)
            let offsets = (0..<k).map { ($0 * 5) % (k + 3) }        // overlapping, out of order
            let c = Tensor(shape: [m, k], repeating: 0.5)
            offsets.withUnsafeBufferPointer {
                ShiftedGemm.multiplyTransposedBroadcast(m: m, k: k, images: images, length: len, at: at.data, ldat: m,
                                                        base: base.data, baseStride: stride, rowOffsets: $0.baseAddress!,
                                                        c: c.data, ldc: k, accumulate: true)
            }
            var expected = [Float](repeating: 0.5, count: m * k)
            for i in 0..<m { for r in 0..<k { for img in 0..<images { for j in 0..<len {
                expected[i * k + r] += at[flat: (img * len + j) * m + i] * base[flat: img * stride + offsets[r] + j]
            } } } }
            assertClose(c.values, expected, rtol: 1e-5, atol: 1e-5, "m \(m) k \(k) images \(images) len \(len)")
        }
    }
}
