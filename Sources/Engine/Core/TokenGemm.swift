import EngineKernels
import EngineKernelsAVX512

/// Matrix products of token rows on the shifted-GEMM kernels (`ShiftedGemm`), whose every
/// element of C is one chain of FMAs over k in order: a row's bits depend neither on how many
/// rows the call holds nor on where the row sits, nor on the vector width. OpenBLAS rounds the
/// last rows of a product in its tail kernel, so with SGEMM a token-row layer needed one call
/// per image (its B operand packed again each time); here one call covers the whole batch and
/// N ranks still produce the bits of one process.
///
/// B is packed once per call into panels of one tile's columns, [k, width] each and
/// contiguous, so the kernels stream it from L1/L2 instead of striding through its rows; A is
/// taken in blocks of rows that stay in L2 while every panel passes over them.
enum TokenGemm {
    /// Floats of A per row block (256 KB): the block stays in L2 while the panels pass.
    static let blockFloats = 1 << 16

    /// B [k, n] packed panel after panel: panel j is columns j·width ..< (j+1)·width of every
    /// row, [k, width] contiguous, zero past n.
    struct Panels {
        let buffer: UnsafeMutablePointer<Float>
        let width: Int, k: Int, n: Int
        var count: Int { (n + width - 1) / width }

        /// Packs the rows starting at `base + rowOffsets[p]`, p = 0..<k, each n floats.
        init(k: Int, n: Int, base: UnsafePointer<Float>, rowOffsets: [Int]) {
            self.init(uninitializedK: k, n: n)
            rowOffsets.withUnsafeBufferPointer { o in
                TokenGemmAVX2.packRows(k: k, n: n, width: width, base: base, rowOffsets: o.baseAddress!, into: buffer)
            }
        }

        /// Packs k rows of n floats, `ld` apart from `base`.
        init(k: Int, n: Int, base: UnsafePointer<Float>, ld: Int) {
            self.init(k: k, n: n, base: base, rowOffsets: (0..<k).map { $0 * ld })
        }

        /// Packs Bᵀ for B = `matrix` [n, k] with rows `ld` apart (a weight [O, I] as the [I, O]
        /// operand of x·Wᵀ; the keys of a head as the operand of q·kᵀ).
        init(transposing matrix: UnsafePointer<Float>, rows n: Int, columns k: Int, ld: Int? = nil) {
            self.init(uninitializedK: k, n: n)
            for c in 0..<n {
                let src = matrix + c * (ld ?? k), (j, t) = c.quotientAndRemainder(dividingBy: width)
                for p in 0..<k { buffer[(j * k + p) * width + t] = src[p] }
            }
        }

        private init(uninitializedK k: Int, n: Int) {
            (self.width, self.k, self.n) = (ShiftedGemm.tileColumns, k, n)
            let total = (n + width - 1) / width * k * width
            buffer = .allocate(capacity: total)
            // Packing writes every column below n; only a partial last panel needs zeros.
            if n % width != 0 { buffer.initialize(repeating: 0, count: total) }
        }

        func deallocate() { buffer.deallocate() }
    }

    /// C[m, n] (=|+=) A[m, k] · B with B packed. Any m: the last m mod 4 rows go through a
    /// zero-padded block of four.
    static func multiply(m: Int, a: UnsafePointer<Float>, lda: Int, b: Panels, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let (n, k, w) = (b.n, b.k, b.width)
        let offsets = (0..<k).map { $0 * w }
        offsets.withUnsafeBufferPointer { o in
            let rowOffsets = o.baseAddress!
            func product(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
                for j in 0..<b.count {
                    ShiftedGemm.multiply(m: rows, n: min(w, n - j * w), k: k, a: a, lda: lda, base: b.buffer + j * k * w,
                                         rowOffsets: rowOffsets, c: c + j * w, ldc: ldc, accumulate: accumulate)
                }
            }
            let tile = ShiftedGemm.tileRows, full = m / tile * tile
            let block = max(8, min(256, blockFloats / max(k, 1)) / 8 * 8)
            var r0 = 0
            while r0 < full {
                let rows = min(block, full - r0)
                product(rows: rows, a: a + r0 * lda, lda: lda, c: c + r0 * ldc, ldc: ldc)
                r0 += rows
            }
            let rest = m - full
            guard rest > 0 else { return }
            let stagedA = UnsafeMutablePointer<Float>.allocate(capacity: tile * k)   // [4, k]
            let stagedC = UnsafeMutablePointer<Float>.allocate(capacity: tile * n)   // [4, n]
            defer { stagedA.deallocate(); stagedC.deallocate() }
            stagedA.initialize(repeating: 0, count: tile * k)
            stagedC.initialize(repeating: 0, count: tile * n)
            for r in 0..<rest {
                (stagedA + r * k).update(from: a + (full + r) * lda, count: k)
                if accumulate { (stagedC + r * n).update(from: c + (full + r) * ldc, count: n) }
            }
            product(rows: tile, a: stagedA, lda: k, c: stagedC, ldc: n)
            for r in 0..<rest { (c + (full + r) * ldc).update(from: stagedC + r * n, count: n) }
        }
    }

    /// C[m, n] (=|+=) A[·, m]ᵀ · B for A [k, m] with rows `lda` apart, read transposed by the
    /// kernel (no copy), and B packed [k, n]; C's rows `ldc` apart.
    static func multiplyTransposedA(m: Int, a: UnsafePointer<Float>, lda: Int, b: Panels,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        multiplyTransposedA(m: m, a: a, rowOffsets: (0..<b.k).map { $0 * lda }, b: b, c: c, ldc: ldc, accumulate: accumulate)
    }

    /// Rows of Aᵀ per block: their cache lines stay in L2 while every panel of B passes.
    static let transposedBlockRows = 32

    /// C[m, n] (=|+=) Σ_p A(·, p)ᵀ B[p, :] where row p of A (m floats) starts at
    /// `a + rowOffsets[p]` — picked rows of a gradient, read transposed by the kernel.
    static func multiplyTransposedA(m: Int, a: UnsafePointer<Float>, rowOffsets: [Int], b: Panels,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let (k, w) = (b.k, b.width), padded = b.count * w
        let product = UnsafeMutablePointer<Float>.allocate(capacity: m * padded)   // [m, panels·width]
        defer { product.deallocate() }
        rowOffsets.withUnsafeBufferPointer { o in
            let aOffsets = o.baseAddress!
            var i0 = 0
            while i0 < m {
                let rows = min(transposedBlockRows, m - i0)
                for j in 0..<b.count {
                    let panel = b.buffer + j * k * w, out = product + i0 * padded + j * w
                    switch ShiftedGemm.kernels {
                    case .avx512: TokenGemmAVX512.multiplyTransposedA(m: rows, k: k, a: a + i0, aOffsets: aOffsets, panel: panel, c: out, ldc: padded)
                    case .avx2: TokenGemmAVX2.multiplyTransposedA(m: rows, k: k, a: a + i0, aOffsets: aOffsets, panel: panel, c: out, ldc: padded)
                    }
                }
                i0 += rows
            }
        }
        for r in 0..<m {
            let src = product + r * padded, dst = c + r * ldc
            if accumulate { for j in 0..<b.n { dst[j] += src[j] } } else { dst.update(from: src, count: b.n) }
        }
    }

    /// dW [O, I] and db [O] over the listed token rows of the output gradient g [·, O] and the
    /// input x [·, I], each element summed over the rows in list order: dW = gᵀ · x with g read
    /// in place (transposed by the kernel) and x's rows packed, db = the rows' sum.
    static func weightGradient(g: UnsafePointer<Float>, outputs o: Int, x: UnsafePointer<Float>, inputs i: Int,
                               rows: [Int], dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>) {
        let panels = Panels(k: rows.count, n: i, base: x, rowOffsets: rows.map { $0 * i })
        defer { panels.deallocate() }
        let offsets = rows.map { $0 * o }
        multiplyTransposedA(m: o, a: g, rowOffsets: offsets, b: panels, c: dw, ldc: i, accumulate: false)
        offsets.withUnsafeBufferPointer { TokenGemmAVX2.sumRows(k: rows.count, n: o, a: g, aOffsets: $0.baseAddress!, c: db) }
    }
}
