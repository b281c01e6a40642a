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

/// `TokenGemmKernel` 16 wide, compiled for AVX-512. Call only when the CPU has it.
public enum TokenGemmAVX512 {
    public static func multiplyTransposedA(m: Int, k: Int, a: UnsafePointer<Float>, aOffsets: UnsafePointer<Int>,
                                           panel: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        TokenGemmKernel<SIMD16<Float>>.multiplyTransposedA(m: m, k: k, a: a, aOffsets: aOffsets, panel: panel, c: c, ldc: ldc)
    }
}
