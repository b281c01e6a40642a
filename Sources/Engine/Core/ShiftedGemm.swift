import EngineKernels
import EngineKernelsAVX512

/// Matrix products whose B operand is a set of shifted windows into one buffer, so a
/// stride-1 convolution runs as a GEMM without materialising im2col.
///
/// With the input zero-padded to [C, Hp, Wp] and outputs computed on the padded-width grid
/// (column j = oy·Wp + ox), the im2col row for (ci, ky, kx) is the contiguous window starting
/// at ci·Hp·Wp + ky·Wp + kx: only its offset is stored. The grid's last Wp − Wo columns of
/// each output row are junk and are dropped (forward) or multiplied by zero (weight gradient).
///
/// The kernels run 16 wide on CPUs with AVX-512 and 8 wide (AVX2) elsewhere; `kernels`
/// says which, and tests may set it to check both.
public enum ShiftedGemm {
    /// The instruction set the kernels run on.
    public enum Kernels: String, CaseIterable, Sendable { case avx2, avx512 }

    /// Chosen from the CPU at start-up (`choose(environment:)` may pin it); set it only to
    /// compare the two (tests, benchmarks).
    nonisolated(unsafe) public static var kernels: Kernels = CPUFeatures.hasAVX512 ? .avx512 : .avx2

    /// The two families sum a weight gradient in different orders, so a run's bits depend on
    /// which one ran: `CONCORD_KERNELS=avx2` (runs on every supported CPU) makes runs on
    /// machines with and without AVX-512 reproduce each other. Unset or empty: the widest.
    public static func choose(environment: [String: String]) throws -> Kernels {
        guard let text = environment["CONCORD_KERNELS"], !text.isEmpty else { return kernels }
        guard let choice = Kernels(rawValue: text) else {
            throw KernelChoiceError("CONCORD_KERNELS '\(text)' is not one of avx2, avx512; unset it to use the widest this CPU runs")
        }
        if choice == .avx512 && !CPUFeatures.hasAVX512 {
            throw KernelChoiceError("CONCORD_KERNELS=avx512: this CPU lacks AVX-512 (F, CD, BW, DQ, VL); use avx2 or unset it")
        }
        return choice
    }

    /// Rows of C per tile: m must be a multiple of it.
    public static let tileRows = 4

    /// Columns of C per wide tile of the kernels in use (three vectors).
    public static var tileColumns: Int { kernels == .avx512 ? 48 : 24 }

    /// Floats each B window must provide for an n-column product (n rounded up to 16, the
    /// widest vector).
    @inlinable
    public static func paddedColumns(_ n: Int) -> Int { (n + 15) / 16 * 16 }

    /// C[m, n] (=|+=) A[m, k] · B[k, n] where row p of B starts at `base + rowOffsets[p]`.
    /// m must be a multiple of 4; every window must be readable to `paddedColumns(n)` floats.
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        precondition(m % tileRows == 0, "ShiftedGemm.multiply: m \(m) is not a multiple of \(tileRows)")
        switch kernels {
        case .avx512:
            ShiftedGemmAVX512.multiply(m: m, n: n, k: k, a: a, lda: lda, base: base, rowOffsets: rowOffsets,
                                       c: c, ldc: ldc, accumulate: accumulate)
        case .avx2:
            ShiftedGemmAVX2.multiply(m: m, n: n, k: k, a: a, lda: lda, base: base, rowOffsets: rowOffsets,
                                     c: c, ldc: ldc, accumulate: accumulate)
        }
    }

    /// C[m, k] (=|+=) A[m, len] · B[k, len]ᵀ where row r of B starts at `base + rowOffsets[r]`:
    /// the weight gradient Σ_j dY[o, j] · window_r[j]. `len` must be a multiple of 16 (pad A
    /// with zeros; `paddedColumns` does) and m a multiple of 4.
    public static func multiplyTransposed(m: Int, k: Int, length len: Int, a: UnsafePointer<Float>, lda: Int,
                                          base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        precondition(m % tileRows == 0 && len % 16 == 0, "ShiftedGemm.multiplyTransposed: m \(m), length \(len)")
        switch kernels {
        case .avx512:
            ShiftedGemmAVX512.multiplyTransposed(m: m, k: k, length: len, a: a, lda: lda, base: base,
                                                 rowOffsets: rowOffsets, c: c, ldc: ldc, accumulate: accumulate)
        case .avx2:
            ShiftedGemmAVX2.multiplyTransposed(m: m, k: k, length: len, a: a, lda: lda, base: base,
                                               rowOffsets: rowOffsets, c: c, ldc: ldc, accumulate: accumulate)
        }
    }

    /// Whether `multiplyTransposedBroadcast` runs for m rows here: AVX-512 kernels, m a
    /// multiple of 16.
    public static func hasBroadcastWeightGradient(m: Int) -> Bool { kernels == .avx512 && m % 16 == 0 }

    /// C[m, k] (=|+=) Σ_img A_img[m, len] · B_img[k, len]ᵀ given each Aᵀ_img [len, m] (rows `ldat`
    /// floats apart, image after image from `at`), row r of B_img starting at
    /// `base + img·baseStride + rowOffsets[r]`: `multiplyTransposed` without horizontal
    /// reductions, over several images at once. Only where `hasBroadcastWeightGradient(m:)`.
    public static func multiplyTransposedBroadcast(m: Int, k: Int, images: Int, length len: Int,
                                                   at: UnsafePointer<Float>, ldat: Int,
                                                   base: UnsafePointer<Float>, baseStride: Int, rowOffsets: UnsafePointer<Int>,
                                                   c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        precondition(hasBroadcastWeightGradient(m: m), "ShiftedGemm.multiplyTransposedBroadcast: m \(m) with \(kernels) kernels")
        ShiftedGemmAVX512.multiplyTransposedBroadcast(m: m, k: k, images: images, length: len, at: at, ldat: ldat, base: base,
                                                      baseStride: baseStride, rowOffsets: rowOffsets, c: c, ldc: ldc,
                                                      accumulate: accumulate)
    }
}

/// A `CONCORD_KERNELS` value this CPU cannot honour.
public struct KernelChoiceError: UserInputError {
    public let description: String
    init(_ description: String) { self.description = description }
}
