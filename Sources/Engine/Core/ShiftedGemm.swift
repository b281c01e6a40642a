/// Matrix products whose B operand is a set of shifted windows into one buffer, so a
/// stride-1 convolution runs as a GEMM without materialising im2col.
///
/// With the input zero-padded to [C, Hp, Wp] and outputs computed on the padded-width grid
/// (column j = oy·Wp + ox), the im2col row for (ci, ky, kx) is the contiguous window starting
/// at ci·Hp·Wp + ky·Wp + kx: only its offset is stored. The grid's last Wp − Wo columns of
/// each output row are junk and are dropped (forward) or multiplied by zero (weight gradient).
public enum ShiftedGemm {
    public typealias V = SIMD8<Float>
    /// Rows of C per tile: m must be a multiple of it.
    public static let tileRows = 4

    /// Floats each B window must provide for an n-column product (n rounded up to 8).
    @inlinable
    public static func paddedColumns(_ n: Int) -> Int { (n + 7) / 8 * 8 }

    /// C[m, n] (=|+=) A[m, k] · B[k, n] where row p of B starts at `base + rowOffsets[p]`.
    /// m must be a multiple of 4; every window must be readable to `paddedColumns(n)` floats.
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        precondition(m % 4 == 0, "ShiftedGemm.multiply: m \(m) is not a multiple of 4")
        var j0 = 0
        while j0 + 24 <= n {
            var i0 = 0
            while i0 < m {
                tile24(k: k, a: a + i0 * lda, lda: lda, b: base + j0, rowOffsets: rowOffsets,
                       c: c + i0 * ldc + j0, ldc: ldc, accumulate: accumulate)
                i0 += 4
            }
            j0 += 24
        }
        while j0 < n {
            let width = min(8, n - j0)
            var i0 = 0
            while i0 < m {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { staging in
                    let s = staging.baseAddress!
                    tile8(k: k, a: a + i0 * lda, lda: lda, b: base + j0, rowOffsets: rowOffsets, c: s)
                    for r in 0..<4 {
                        let row = c + (i0 + r) * ldc + j0
                        if accumulate { for t in 0..<width { row[t] += s[r * 8 + t] } }
                        else { row.update(from: s + r * 8, count: width) }
                    }
                }
                i0 += 4
            }
            j0 += 8
        }
    }

    @inline(__always)
    static func tile24(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                       c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V()
        var c20 = V(), c21 = V(), c22 = V(), c30 = V(), c31 = V(), c32 = V()
        let a0 = a, a1 = a + lda, a2 = a + 2 &* lda, a3 = a + 3 &* lda
        for p in 0..<k {
            let row = UnsafeRawPointer(b + rowOffsets[p])
            let b0 = row.loadUnaligned(as: V.self)
            let b1 = row.loadUnaligned(fromByteOffset: 32, as: V.self)
            let b2 = row.loadUnaligned(fromByteOffset: 64, as: V.self)
            var av = V(repeating: a0[p])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1); c02 = c02.addingProduct(av, b2)
            av = V(repeating: a1[p])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1); c12 = c12.addingProduct(av, b2)
            av = V(repeating: a2[p])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1); c22 = c22.addingProduct(av, b2)
            av = V(repeating: a3[p])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1); c32 = c32.addingProduct(av, b2)
        }
        let rc = UnsafeMutableRawPointer(c)
        @inline(__always) func store(_ v: V, _ r: Int, _ col: Int) {
            let off = (r * ldc + col) * 4
            rc.storeBytes(of: accumulate ? v + rc.loadUnaligned(fromByteOffset: off, as: V.self) : v, toByteOffset: off, as: V.self)
        }
        store(c00, 0, 0); store(c01, 0, 8); store(c02, 0, 16)
        store(c10, 1, 0); store(c11, 1, 8); store(c12, 1, 16)
        store(c20, 2, 0); store(c21, 2, 8); store(c22, 2, 16)
        store(c30, 3, 0); store(c31, 3, 8); store(c32, 3, 16)
    }

    /// A 4×8 tile written to an 8-wide staging block.
    @inline(__always)
    static func tile8(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                      c: UnsafeMutablePointer<Float>) {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V()
        for p in 0..<k {
            let bv = UnsafeRawPointer(b + rowOffsets[p]).loadUnaligned(as: V.self)
            c0 = c0.addingProduct(V(repeating: a[p]), bv)
            c1 = c1.addingProduct(V(repeating: a[lda &+ p]), bv)
            c2 = c2.addingProduct(V(repeating: a[2 &* lda &+ p]), bv)
            c3 = c3.addingProduct(V(repeating: a[3 &* lda &+ p]), bv)
        }
        let rc = UnsafeMutableRawPointer(c)
        rc.storeBytes(of: c0, toByteOffset: 0, as: V.self)
        rc.storeBytes(of: c1, toByteOffset: 32, as: V.self)
        rc.storeBytes(of: c2, toByteOffset: 64, as: V.self)
        rc.storeBytes(of: c3, toByteOffset: 96, as: V.self)
    }

    /// C[m, k] (=|+=) A[m, len] · B[k, len]ᵀ where row r of B starts at `base + rowOffsets[r]`:
    /// the weight gradient Σ_j dY[o, j] · window_r[j]. `len` must be a multiple of 8 (pad A
    /// with zeros) and m a multiple of 4.
    public static func multiplyTransposed(m: Int, k: Int, length len: Int, a: UnsafePointer<Float>, lda: Int,
                                          base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        precondition(m % 4 == 0 && len % 8 == 0, "ShiftedGemm.multiplyTransposed: m \(m), length \(len)")
        var i0 = 0
        while i0 < m {
            let ra = UnsafeRawPointer(a + i0 * lda), rowStride = lda * 4
            var r0 = 0
            while r0 < k {
                let rows = min(3, k - r0)
                // Three B windows (repeating the last when fewer remain) against four A rows.
                let w0 = UnsafeRawPointer(base + rowOffsets[r0])
                let w1 = UnsafeRawPointer(base + rowOffsets[r0 + min(1, rows - 1)])
                let w2 = UnsafeRawPointer(base + rowOffsets[r0 + min(2, rows - 1)])
                var s00 = V(), s01 = V(), s02 = V(), s10 = V(), s11 = V(), s12 = V()
                var s20 = V(), s21 = V(), s22 = V(), s30 = V(), s31 = V(), s32 = V()
                var j = 0
                while j < len {
                    // Offsets wrap (&+, &*): in range by construction, and overflow checks in
                    // this loop cost more than the loads.
                    let off = j &* 4
                    let b0 = w0.loadUnaligned(fromByteOffset: off, as: V.self)
                    let b1 = w1.loadUnaligned(fromByteOffset: off, as: V.self)
                    let b2 = w2.loadUnaligned(fromByteOffset: off, as: V.self)
                    var av = ra.loadUnaligned(fromByteOffset: off, as: V.self)
                    s00 = s00.addingProduct(av, b0); s01 = s01.addingProduct(av, b1); s02 = s02.addingProduct(av, b2)
                    av = ra.loadUnaligned(fromByteOffset: rowStride &+ off, as: V.self)
                    s10 = s10.addingProduct(av, b0); s11 = s11.addingProduct(av, b1); s12 = s12.addingProduct(av, b2)
                    av = ra.loadUnaligned(fromByteOffset: 2 &* rowStride &+ off, as: V.self)
                    s20 = s20.addingProduct(av, b0); s21 = s21.addingProduct(av, b1); s22 = s22.addingProduct(av, b2)
                    av = ra.loadUnaligned(fromByteOffset: 3 &* rowStride &+ off, as: V.self)
                    s30 = s30.addingProduct(av, b0); s31 = s31.addingProduct(av, b1); s32 = s32.addingProduct(av, b2)
                    j &+= 8
                }
                let sums: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float) =
                    (s00.sum(), s01.sum(), s02.sum(), s10.sum(), s11.sum(), s12.sum(),
                     s20.sum(), s21.sum(), s22.sum(), s30.sum(), s31.sum(), s32.sum())
                withUnsafeBytes(of: sums) { raw in
                    let s = raw.bindMemory(to: Float.self)
                    for r in 0..<4 {
                        for t in 0..<rows {
                            let dst = c + (i0 + r) * ldc + r0 + t
                            dst.pointee = accumulate ? dst.pointee + s[r * 3 + t] : s[r * 3 + t]
                        }
                    }
                }
                r0 += 3
            }
            i0 += 4
        }
    }
}
