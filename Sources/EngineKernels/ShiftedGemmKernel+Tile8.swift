/// `multiply` in tiles of 8 rows of C for CPUs with 32 vector registers (AVX-512): 24
/// accumulators, so each B vector loaded feeds 8 FMAs instead of 4. m must be a multiple of 8.
/// (The same tiles for `multiplyTransposed` measured slower: the compiler spills accumulators.)
extension ShiftedGemmKernel {
    /// `multiply` with 8-row tiles; m a multiple of 8.
    @inlinable
    public static func multiply8(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                 base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                 c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let w = width, tile = 3 * w
        var j0 = 0
        while j0 + tile <= n {
            var i0 = 0
            while i0 < m {
                wideTile8(k: k, a: a + i0 * lda, lda: lda, b: base + j0, rowOffsets: rowOffsets,
                          c: c + i0 * ldc + j0, ldc: ldc, accumulate: accumulate)
                i0 += 8
            }
            j0 += tile
        }
        // Tails: two vectors at a time while more than one remains, then one; both through a
        // staging block so columns past n are never written.
        while j0 < n {
            let vectors = n - j0 > w ? 2 : 1, columns = min(vectors * w, n - j0)
            var i0 = 0
            while i0 < m {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * 2 * w) { staging in
                    let s = staging.baseAddress!   // s: [8, vectors·w]
                    if vectors == 2 {
                        midTile8(k: k, a: a + i0 * lda, lda: lda, b: base + j0, rowOffsets: rowOffsets, c: s)
                    } else {
                        narrowTile8(k: k, a: a + i0 * lda, lda: lda, b: base + j0, rowOffsets: rowOffsets, c: s)
                    }
                    let ld = vectors * w
                    for r in 0..<8 {
                        let row = c + (i0 + r) * ldc + j0
                        if accumulate { for t in 0..<columns { row[t] += s[r * ld + t] } }
                        else { row.update(from: s + r * ld, count: columns) }
                    }
                }
                i0 += 8
            }
            j0 += vectors * w
        }
    }

    @inlinable @inline(__always)
    static func wideTile8(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let bytes = V.scalarCount &* 4
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V(), c20 = V(), c21 = V(), c22 = V(), c30 = V(), c31 = V(), c32 = V()
        var c40 = V(), c41 = V(), c42 = V(), c50 = V(), c51 = V(), c52 = V(), c60 = V(), c61 = V(), c62 = V(), c70 = V(), c71 = V(), c72 = V()
        let a0 = a + 0 &* lda; let a1 = a + 1 &* lda; let a2 = a + 2 &* lda; let a3 = a + 3 &* lda; let a4 = a + 4 &* lda; let a5 = a + 5 &* lda; let a6 = a + 6 &* lda; let a7 = a + 7 &* lda
        for p in 0..<k {
            let row = UnsafeRawPointer(b + rowOffsets[p])
            let b0 = row.loadUnaligned(as: V.self)
            let b1 = row.loadUnaligned(fromByteOffset: bytes, as: V.self)
            let b2 = row.loadUnaligned(fromByteOffset: 2 &* bytes, as: V.self)
            var av = V(repeating: a0[p])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1); c02 = c02.addingProduct(av, b2)
            av = V(repeating: a1[p])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1); c12 = c12.addingProduct(av, b2)
            av = V(repeating: a2[p])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1); c22 = c22.addingProduct(av, b2)
            av = V(repeating: a3[p])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1); c32 = c32.addingProduct(av, b2)
            av = V(repeating: a4[p])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1); c42 = c42.addingProduct(av, b2)
            av = V(repeating: a5[p])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1); c52 = c52.addingProduct(av, b2)
            av = V(repeating: a6[p])
            c60 = c60.addingProduct(av, b0); c61 = c61.addingProduct(av, b1); c62 = c62.addingProduct(av, b2)
            av = V(repeating: a7[p])
            c70 = c70.addingProduct(av, b0); c71 = c71.addingProduct(av, b1); c72 = c72.addingProduct(av, b2)
        }
        let rc = UnsafeMutableRawPointer(c)
        @inline(__always) func store(_ v: V, _ r: Int, _ vector: Int) {
            let off = (r &* ldc &+ vector &* V.scalarCount) &* 4
            rc.storeBytes(of: accumulate ? v + rc.loadUnaligned(fromByteOffset: off, as: V.self) : v, toByteOffset: off, as: V.self)
        }
        store(c00, 0, 0); store(c01, 0, 1); store(c02, 0, 2)
        store(c10, 1, 0); store(c11, 1, 1); store(c12, 1, 2)
        store(c20, 2, 0); store(c21, 2, 1); store(c22, 2, 2)
        store(c30, 3, 0); store(c31, 3, 1); store(c32, 3, 2)
        store(c40, 4, 0); store(c41, 4, 1); store(c42, 4, 2)
        store(c50, 5, 0); store(c51, 5, 1); store(c52, 5, 2)
        store(c60, 6, 0); store(c61, 6, 1); store(c62, 6, 2)
        store(c70, 7, 0); store(c71, 7, 1); store(c72, 7, 2)
    }

    /// An 8 × 2·width tile written to a staging block [8, 2·width].
    @inlinable @inline(__always)
    static func midTile8(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                         c: UnsafeMutablePointer<Float>) {
        let bytes = V.scalarCount &* 4
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        for p in 0..<k {
            let row = UnsafeRawPointer(b + rowOffsets[p])
            let b0 = row.loadUnaligned(as: V.self)
            let b1 = row.loadUnaligned(fromByteOffset: bytes, as: V.self)
            let a0v = V(repeating: a[0 &* lda &+ p])
            c00 = c00.addingProduct(a0v, b0); c01 = c01.addingProduct(a0v, b1)
            let a1v = V(repeating: a[1 &* lda &+ p])
            c10 = c10.addingProduct(a1v, b0); c11 = c11.addingProduct(a1v, b1)
            let a2v = V(repeating: a[2 &* lda &+ p])
            c20 = c20.addingProduct(a2v, b0); c21 = c21.addingProduct(a2v, b1)
            let a3v = V(repeating: a[3 &* lda &+ p])
            c30 = c30.addingProduct(a3v, b0); c31 = c31.addingProduct(a3v, b1)
            let a4v = V(repeating: a[4 &* lda &+ p])
            c40 = c40.addingProduct(a4v, b0); c41 = c41.addingProduct(a4v, b1)
            let a5v = V(repeating: a[5 &* lda &+ p])
            c50 = c50.addingProduct(a5v, b0); c51 = c51.addingProduct(a5v, b1)
            let a6v = V(repeating: a[6 &* lda &+ p])
            c60 = c60.addingProduct(a6v, b0); c61 = c61.addingProduct(a6v, b1)
            let a7v = V(repeating: a[7 &* lda &+ p])
            c70 = c70.addingProduct(a7v, b0); c71 = c71.addingProduct(a7v, b1)
        }
        let rc = UnsafeMutableRawPointer(c)
        rc.storeBytes(of: c00, toByteOffset: 0 &* bytes, as: V.self); rc.storeBytes(of: c01, toByteOffset: 1 &* bytes, as: V.self)
        rc.storeBytes(of: c10, toByteOffset: 2 &* bytes, as: V.self); rc.storeBytes(of: c11, toByteOffset: 3 &* bytes, as: V.self)
        rc.storeBytes(of: c20, toByteOffset: 4 &* bytes, as: V.self); rc.storeBytes(of: c21, toByteOffset: 5 &* bytes, as: V.self)
        rc.storeBytes(of: c30, toByteOffset: 6 &* bytes, as: V.self); rc.storeBytes(of: c31, toByteOffset: 7 &* bytes, as: V.self)
        rc.storeBytes(of: c40, toByteOffset: 8 &* bytes, as: V.self); rc.storeBytes(of: c41, toByteOffset: 9 &* bytes, as: V.self)
        rc.storeBytes(of: c50, toByteOffset: 10 &* bytes, as: V.self); rc.storeBytes(of: c51, toByteOffset: 11 &* bytes, as: V.self)
        rc.storeBytes(of: c60, toByteOffset: 12 &* bytes, as: V.self); rc.storeBytes(of: c61, toByteOffset: 13 &* bytes, as: V.self)
        rc.storeBytes(of: c70, toByteOffset: 14 &* bytes, as: V.self); rc.storeBytes(of: c71, toByteOffset: 15 &* bytes, as: V.self)
    }

    /// An 8 × width tile written to a staging block [8, width].
    @inlinable @inline(__always)
    static func narrowTile8(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                            c: UnsafeMutablePointer<Float>) {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V(), c6 = V(), c7 = V()
        for p in 0..<k {
            let bv = UnsafeRawPointer(b + rowOffsets[p]).loadUnaligned(as: V.self)
            c0 = c0.addingProduct(V(repeating: a[0 &* lda &+ p]), bv)
            c1 = c1.addingProduct(V(repeating: a[1 &* lda &+ p]), bv)
            c2 = c2.addingProduct(V(repeating: a[2 &* lda &+ p]), bv)
            c3 = c3.addingProduct(V(repeating: a[3 &* lda &+ p]), bv)
            c4 = c4.addingProduct(V(repeating: a[4 &* lda &+ p]), bv)
            c5 = c5.addingProduct(V(repeating: a[5 &* lda &+ p]), bv)
            c6 = c6.addingProduct(V(repeating: a[6 &* lda &+ p]), bv)
            c7 = c7.addingProduct(V(repeating: a[7 &* lda &+ p]), bv)
        }
        let rc = UnsafeMutableRawPointer(c), bytes = V.scalarCount &* 4
        rc.storeBytes(of: c0, toByteOffset: 0 &* bytes, as: V.self)
        rc.storeBytes(of: c1, toByteOffset: 1 &* bytes, as: V.self)
        rc.storeBytes(of: c2, toByteOffset: 2 &* bytes, as: V.self)
        rc.storeBytes(of: c3, toByteOffset: 3 &* bytes, as: V.self)
        rc.storeBytes(of: c4, toByteOffset: 4 &* bytes, as: V.self)
        rc.storeBytes(of: c5, toByteOffset: 5 &* bytes, as: V.self)
        rc.storeBytes(of: c6, toByteOffset: 6 &* bytes, as: V.self)
        rc.storeBytes(of: c7, toByteOffset: 7 &* bytes, as: V.self)
    }
}
