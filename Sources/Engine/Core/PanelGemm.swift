/// A register-blocked SGEMM for the shapes convolutions make: C[m,n] (=|+=) A[m,k] · B[k,n]
/// with m a multiple of 4 and row-major operands, computed in 4×24 tiles held in twelve AVX2
/// registers.
///
/// It exists because OpenBLAS spends most of its time outside its kernel on these shapes
/// (16–64 rows, a few hundred columns per image): packing both operands, a separate pass that
/// zeroes C, and copying the result out of a batched layout. Here B is read in place (its rows
/// are short enough to stay in L1/L2), nothing is packed, and C is written once, in place.
///
/// Requirement: each row of B must be readable up to `paddedColumns(n)` floats (the pad
/// columns' values are ignored), so callers lower images with `ld = paddedColumns(n)`.
public enum PanelGemm {
    public static let tileRows = 4
    public static let tileColumns = 24

    /// Columns a B row must provide for an n-column product (n rounded up to 8).
    @inlinable
    public static func paddedColumns(_ n: Int) -> Int { (n + 7) / 8 * 8 }

    /// Whether this kernel handles an m-row product.
    @inlinable
    public static func supports(rows m: Int) -> Bool { m > 0 && m % tileRows == 0 }

    public static func multiply(m: Int, n: Int, k: Int,
                                a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        precondition(m % tileRows == 0 && ldb >= paddedColumns(n), "PanelGemm: m \(m), n \(n), ldb \(ldb)")
        var j0 = 0
        while j0 + tileColumns <= n {   // full 24-column tiles
            var i0 = 0
            while i0 < m {
                tile(k: k, a: a + i0 * lda, lda: lda, b: b + j0, ldb: ldb, c: c + i0 * ldc + j0, ldc: ldc, accumulate: accumulate)
                i0 += tileRows
            }
            j0 += tileColumns
        }
        while j0 < n {   // 8-column tiles; the last one may be partial and goes through staging
            let width = min(8, n - j0)
            var i0 = 0
            while i0 < m {
                if width == 8 {
                    narrowTile(k: k, a: a + i0 * lda, lda: lda, b: b + j0, ldb: ldb, c: c + i0 * ldc + j0, ldc: ldc,
                               accumulate: accumulate)
                } else {
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: tileRows * 8) { staging in
                        let s = staging.baseAddress!
                        for r in 0..<tileRows {
                            let row = c + (i0 + r) * ldc + j0
                            for t in 0..<8 { s[r * 8 + t] = (accumulate && t < width) ? row[t] : 0 }
                        }
                        narrowTile(k: k, a: a + i0 * lda, lda: lda, b: b + j0, ldb: ldb, c: s, ldc: 8, accumulate: accumulate)
                        for r in 0..<tileRows { (c + (i0 + r) * ldc + j0).update(from: s + r * 8, count: width) }
                    }
                }
                i0 += tileRows
            }
            j0 += 8
        }
    }

    /// One 4×8 tile, for the columns left after the 24-wide tiles.
    @inline(__always)
    static func narrowTile(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        typealias V = SIMD8<Float>
        var c0 = V(), c1 = V(), c2 = V(), c3 = V()
        let rb = UnsafeRawPointer(b)
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        for p in 0..<k {
            let bv = rb.loadUnaligned(fromByteOffset: p * ldb * 4, as: V.self)
            c0 = c0.addingProduct(V(repeating: a0[p]), bv)
            c1 = c1.addingProduct(V(repeating: a1[p]), bv)
            c2 = c2.addingProduct(V(repeating: a2[p]), bv)
            c3 = c3.addingProduct(V(repeating: a3[p]), bv)
        }
        let rc = UnsafeMutableRawPointer(c)
        @inline(__always) func store(_ v: V, row: Int) {
            let off = row * ldc * 4
            rc.storeBytes(of: accumulate ? v + rc.loadUnaligned(fromByteOffset: off, as: V.self) : v, toByteOffset: off, as: V.self)
        }
        store(c0, row: 0); store(c1, row: 1); store(c2, row: 2); store(c3, row: 3)
    }

    /// One 4×24 tile: twelve 8-float accumulators, three B vectors and one broadcast A value
    /// per step of k — sixteen AVX2 registers.
    @inline(__always)
    static func tile(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        typealias V = SIMD8<Float>
        var c00 = V(), c01 = V(), c02 = V()
        var c10 = V(), c11 = V(), c12 = V()
        var c20 = V(), c21 = V(), c22 = V()
        var c30 = V(), c31 = V(), c32 = V()
        let rb = UnsafeRawPointer(b)
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        for p in 0..<k {
            let off = p * ldb * 4
            let b0 = rb.loadUnaligned(fromByteOffset: off, as: V.self)
            let b1 = rb.loadUnaligned(fromByteOffset: off + 32, as: V.self)
            let b2 = rb.loadUnaligned(fromByteOffset: off + 64, as: V.self)
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
        @inline(__always) func store(_ v: V, row: Int, col: Int) {
            let off = (row * ldc + col) * 4
            let out = accumulate ? v + rc.loadUnaligned(fromByteOffset: off, as: V.self) : v
            rc.storeBytes(of: out, toByteOffset: off, as: V.self)
        }
        store(c00, row: 0, col: 0); store(c01, row: 0, col: 8); store(c02, row: 0, col: 16)
        store(c10, row: 1, col: 0); store(c11, row: 1, col: 8); store(c12, row: 1, col: 16)
        store(c20, row: 2, col: 0); store(c21, row: 2, col: 8); store(c22, row: 2, col: 16)
        store(c30, row: 3, col: 0); store(c31, row: 3, col: 8); store(c32, row: 3, col: 16)
    }
}
