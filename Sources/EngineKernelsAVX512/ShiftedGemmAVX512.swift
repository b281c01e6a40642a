import EngineKernels

/// The shifted-GEMM kernels 16 wide, compiled for AVX-512 (F, CD, BW, DQ, VL). Call only
/// when `CPUFeatures.hasAVX512` says the CPU has them; `ShiftedGemm` dispatches. With 32
/// vector registers, products with a multiple of 8 rows take the 8-row tiles.
public enum ShiftedGemmAVX512 {
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        if m % 8 == 0 {
            ShiftedGemmKernel<SIMD16<Float>>.multiply8(m: m, n: n, k: k, a: a, lda: lda, base: base, rowOffsets: rowOffsets,
                                                        c: c, ldc: ldc, accumulate: accumulate)
            return
        }
        ShiftedGemmKernel<SIMD16<Float>>.multiply(m: m, n: n, k: k, a: a, lda: lda, base: base, rowOffsets: rowOffsets,
                                                   c: c, ldc: ldc, accumulate: accumulate)
    }

    public static func multiplyTransposed(m: Int, k: Int, length: Int, a: UnsafePointer<Float>, lda: Int,
                                          base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        ShiftedGemmKernel<SIMD16<Float>>.multiplyTransposed(m: m, k: k, length: length, a: a, lda: lda, base: base,
                                                             rowOffsets: rowOffsets, c: c, ldc: ldc, accumulate: accumulate)
    }

    public static func multiplyTransposedBroadcast(m: Int, k: Int, images: Int, length: Int, at: UnsafePointer<Float>, ldat: Int,
                                                   base: UnsafePointer<Float>, baseStride: Int, rowOffsets: UnsafePointer<Int>,
                                                   c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        ShiftedGemmKernel<SIMD16<Float>>.multiplyTransposedBroadcast(m: m, k: k, images: images, length: length, at: at, ldat: ldat,
                                                                      base: base, baseStride: baseStride, rowOffsets: rowOffsets,
                                                                      c: c, ldc: ldc, accumulate: accumulate)
    }
}

/// `FMALoop` 16 wide, compiled for AVX-512. Call only when the CPU has it.
public enum FMALoopAVX512 {
    /// Floating-point operations per round of `run`.
    public static let flopsPerIteration = 12 * 2 * 16
    public static func run(iterations: Int) -> Float { FMALoop<SIMD16<Float>>.run(iterations: iterations) }
}

/// `TileGemmKernel` compiled for AVX-512 (32 vector registers: up to 24 accumulators),
/// 16 wide (`multiply`) or 8 wide (`multiplyNarrow`: on cores whose 512-bit multiply-adds do
/// no more work per cycle than 256-bit ones, narrow vectors waste fewer lanes when n is not a
/// multiple of 16). Call only when the CPU has AVX-512.
public enum TileGemmAVX512 {
    public static func multiply(_ q: TileGemmProblem) {
        typealias V = SIMD16<Float>
        switch q.n {
        case ...16:
            switch TileRows.fewestWasted(q.m, 24, 20, 16) {
            case 24: TileGemmKernel<V, 24, 1>.multiply(q)
            case 20: TileGemmKernel<V, 20, 1>.multiply(q)
            default: TileGemmKernel<V, 16, 1>.multiply(q)
            }
        case ...32:
            switch TileRows.fewestWasted(q.m, 12, 10, 8) {
            case 12: TileGemmKernel<V, 12, 2>.multiply(q)
            case 10: TileGemmKernel<V, 10, 2>.multiply(q)
            default: TileGemmKernel<V, 8, 2>.multiply(q)
            }
        case ...48: TileGemmKernel<V, 8, 3>.multiply(q)
        case ...64:
            TileRows.fewestWasted(q.m, 6, 5, 5) == 6 ? TileGemmKernel<V, 6, 4>.multiply(q) : TileGemmKernel<V, 5, 4>.multiply(q)
        default:
            // Measured on Zen 4: a row-major A runs fastest in 4 × 6 tiles, a transposed one in 8 × 3.
            q.st == 1 ? TileGemmKernel<V, 4, 6>.multiply(q) : TileGemmKernel<V, 8, 3>.multiply(q)
        }
    }

    public static func multiplyNarrow(_ q: TileGemmProblem) {
        typealias V = SIMD8<Float>
        switch q.n {
        case ...8: TileRows.fewestWasted(q.m, 24, 20, 16) == 24 ? TileGemmKernel<V, 24, 1>.multiply(q) : TileGemmKernel<V, 20, 1>.multiply(q)
        case ...16: TileRows.fewestWasted(q.m, 12, 10, 10) == 12 ? TileGemmKernel<V, 12, 2>.multiply(q) : TileGemmKernel<V, 10, 2>.multiply(q)
        case ...24:
            switch TileRows.fewestWasted(q.m, 10, 8, 7) {
            case 10: TileGemmKernel<V, 10, 3>.multiply(q)
            case 8: TileGemmKernel<V, 8, 3>.multiply(q)
            default: TileGemmKernel<V, 7, 3>.multiply(q)
            }
        case ...32: TileGemmKernel<V, 6, 4>.multiply(q)
        default: TileGemmKernel<V, 3, 7>.multiply(q)
        }
    }

    /// Floating-point operations per round of `FMALoop` 8 wide on this module's target.
    public static let narrowFlopsPerIteration = 12 * 2 * 8
    public static func runNarrowFMALoop(iterations: Int) -> Float { FMALoop<SIMD8<Float>>.run(iterations: iterations) }
}
