import EngineKernels
import EngineKernelsAVX512

/// Matrix products of token rows and attention heads on the register-tiled kernels
/// (`TileGemmKernel`), whose every element of C is one chain of FMAs over the inner rows in
/// order: a row's bits depend neither on how many rows the call holds nor on where the row
/// sits, nor on the vector width. OpenBLAS rounds the last rows of a product in its tail
/// kernel, so with SGEMM a token-row layer needed one call per image; here one call covers the
/// whole batch and N ranks still produce the bits of one process.
///
/// Operands are read in place — A through two strides (row-major or transposed), B row by
/// row — so nothing is packed but a transposed weight. B and C must be readable a whole tile
/// past column n (`TileGemmProblem`); every tensor's buffer is (`BufferPool.slack`).
public enum TokenGemm {
    /// Runs one product on the kernels in use (`ShiftedGemm.kernels`). With AVX-512 on a core
    /// whose 512-bit multiply-adds do no more work per cycle than 256-bit ones (AMD Zen 4), a
    /// product whose n is not a multiple of 16 runs 8 wide: fewer wasted lanes (an attention
    /// head of 24 fills three 8-lane vectors, but only 75 % of two 16-lane ones).
    static func run(_ q: TileGemmProblem) {
        switch ShiftedGemm.kernels {
        case .avx512:
            if !fullWidth512 && q.n % 16 != 0 && usefulLanes(q.n, 8) > usefulLanes(q.n, 16) {
                TileGemmAVX512.multiplyNarrow(q)
            } else {
                TileGemmAVX512.multiply(q)
            }
        case .avx2: TileGemmAVX2.multiply(q)
        }
    }

    /// The share of the lanes of n columns in whole vectors of `width` that hold columns.
    static func usefulLanes(_ n: Int, _ width: Int) -> Double { Double(n) / Double((n + width - 1) / width * width) }

    /// Whether 16-wide multiply-adds do clearly more work per cycle than 8-wide ones on this
    /// core (Intel's and Zen 5's 512-bit units; not Zen 4's, which splits them in two):
    /// measured once, a few milliseconds, the best of three rounds each. The choice changes
    /// speed only: every element is the same chain of multiply-adds at either width.
    static let fullWidth512: Bool = {
        guard CPUFeatures.hasAVX512 else { return false }
        let iterations = 200_000
        var best8 = 0.0, best16 = 0.0
        for _ in 0..<3 {
            var t0 = OpProfile.now()
            let narrow = TileGemmAVX512.runNarrowFMALoop(iterations: iterations)
            var t1 = OpProfile.now()
            best8 = max(best8, Double(TileGemmAVX512.narrowFlopsPerIteration) / (t1 - t0))
            t0 = OpProfile.now()
            let wide = FMALoopAVX512.run(iterations: iterations)
            t1 = OpProfile.now()
            best16 = max(best16, Double(FMALoopAVX512.flopsPerIteration) / (t1 - t0))
            if !(narrow + wide).isFinite { return true }
        }
        return best16 > 1.4 * best8
    }()

    /// The tile kernels in use, for logs and the bench: the instruction set, and on AVX-512
    /// whether narrow vectors serve the products whose width is not a multiple of 16.
    public static var kernelDescription: String {
        switch ShiftedGemm.kernels {
        case .avx2: return "avx2"
        case .avx512: return fullWidth512 ? "avx512 (16 lanes)" : "avx512 (8 lanes where n is not a multiple of 16)"
        }
    }

    /// y[rows, O] = x[rows, I] · Wᵀ (+ bias) for W [O, I].
    static func linear(rows: Int, x: UnsafePointer<Float>, weight: Tensor, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let (o, i) = (weight.shape[0], weight.shape[1])
        let wt = Tensor(uninitializedShape: [i, o])   // wt: Wᵀ [I, O]
        for r in 0..<o { for c in 0..<i { wt.data[c * o + r] = weight.data[r * i + c] } }
        run(TileGemmProblem(m: rows, n: o, k: i, a: x, sa: i, st: 1, b: wt.data, ldb: o, c: y, ldc: o,
                            start: bias.map { .row($0) } ?? .zero))
    }

    /// dX[rows, I] (=|+=) dY[rows, O] · W for W [O, I], read in place.
    static func inputGradient(rows: Int, g: UnsafePointer<Float>, weight: Tensor, dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let (o, i) = (weight.shape[0], weight.shape[1])
        run(TileGemmProblem(m: rows, n: i, k: o, a: g, sa: o, st: 1, b: weight.data, ldb: i, c: dx, ldc: i,
                            start: accumulate ? .accumulate : .zero))
    }

    /// dW [O, I] and db [O] over the token rows of the listed images (`rowsPerImage` rows
    /// each), each element summed over the rows in list order: dW = gᵀ · x with g read
    /// transposed in place and x's rows in place, db = the rows' sum.
    static func weightGradient(g: UnsafePointer<Float>, outputs o: Int, x: UnsafePointer<Float>, inputs i: Int,
                               images: [Int], rowsPerImage: Int, dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>) {
        let starts = images.map { $0 * rowsPerImage }
        starts.withUnsafeBufferPointer { segments in
            run(TileGemmProblem(m: o, n: i, k: rowsPerImage, a: g, sa: 1, st: o, b: x, ldb: i, c: dw, ldc: i,
                                segments: segments))
            RowKernels.sumRows(segments: segments, length: rowsPerImage, n: o, a: g, into: db)
        }
    }
}
